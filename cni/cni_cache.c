/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The result cache, in libcni's layout (libcni/api.go, cachedInfo):
 * <dir>/<network>-<containerID>-<ifname>, one JSON object of kind
 * "cniCacheV1" holding the conflist (base64, as Go encodes []byte), the
 * runtime arguments and the final result. It is what lets DEL run after a
 * crash, or in another process, without the original config. Entries are
 * written atomically (a temporary file, fsync, rename) so a crash leaves
 * the old entry or the new one, never half of one. The files are ours but
 * are parsed as untrusted input all the same (tests/fuzz/fuzz_cni.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/cni_int.h"

#define CNI_CACHE_KIND		"cniCacheV1"
#define CNI_CACHE_FILE_MAX	(4u << 20)	/* conflist + result, base64 */

static const char cni_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
cni_cache_path(const char *dir, const char *network, const char *id,
    const char *ifname)
{
	return xasprintf("%s/%s-%s-%s", dir, network, id, ifname);
}

/* RFC 4648 base64 with padding (Go's encoding/json for []byte). */
char *
cni_base64_encode(const void *data, size_t len)
{
	const uint8_t *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = cni_b64[p[i] >> 2];
		*o++ = cni_b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = cni_b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = cni_b64[p[i + 2] & 63];
	}
	if (i < len) {
		*o++ = cni_b64[p[i] >> 2];
		if (i + 1 < len) {
			*o++ = cni_b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = cni_b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = cni_b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
cni_b64_value(char c)
{
	const char *p = c != '\0' ? strchr(cni_b64, c) : NULL;

	return p != NULL ? (int)(p - cni_b64) : -1;
}

/* Strict: length a multiple of 4, padding only at the end. */
int
cni_base64_decode(const char *s, size_t len, char **out, size_t *outlen)
{
	char *buf, *o;
	size_t i, pad = 0;
	int v[4], k;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	buf = o = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			bool last = i + 4 == len;

			v[k] = last && k >= 4 - (int)pad ? 0 :
			    cni_b64_value(s[i + (size_t)k]);
			if (v[k] < 0) {
				free(buf);
				return -1;
			}
		}
		*o++ = (char)((v[0] << 2) | (v[1] >> 4));
		*o++ = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
		*o++ = (char)(((v[2] & 3) << 6) | v[3]);
	}
	o -= pad;
	*o = '\0';
	*out = buf;
	*outlen = (size_t)(o - buf);
	return 0;
}

void
cni_cache_entry_free(struct cni_cache_entry *e)
{
	if (e == NULL)
		return;
	free(e->netns);
	free(e->config);
	free(e->cni_args);
	free(e->capability_args);
	json_decref(e->result);
	free(e);
}

/* A required string member that must pass valid() into dst[n]. */
static int
cni_cache_str(const json_t *o, const char *key, char *dst, size_t n,
    bool (*valid)(const char *), struct err *err)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) >= n || !valid(s))
		return err_set(err, EINVAL, "cni cache: %s missing or "
		    "invalid", key);
	str_copy(dst, s, n);
	return 0;
}

/* cniArgs: [["K","V"],...] back to CNI_ARGS' "K=V;K2=V2". */
static int
cni_cache_args(const json_t *args, char **out, struct err *err)
{
	struct buf b;
	json_t *pair;
	size_t i;

	*out = NULL;
	if (args == NULL || json_is_null(args))
		return 0;
	if (!json_is_array(args) || json_array_size(args) > 64)
		return err_set(err, EINVAL, "cni cache: cniArgs is not a list");
	buf_init(&b);
	json_array_foreach(args, i, pair) {
		const char *k = json_string_value(json_array_get(pair, 0));
		const char *v = json_string_value(json_array_get(pair, 1));

		if (k == NULL || v == NULL || json_array_size(pair) != 2 ||
		    strpbrk(k, "=;") != NULL || strchr(v, ';') != NULL) {
			buf_fini(&b);
			return err_set(err, EINVAL, "cni cache: cniArgs[%zu] "
			    "is not a [key, value] pair", i);
		}
		if (i > 0)
			buf_append(&b, ";", 1);
		buf_append(&b, k, strlen(k));
		buf_append(&b, "=", 1);
		buf_append(&b, v, strlen(v));
	}
	buf_append(&b, "", 1);
	*out = xstrdup((const char *)buf_head(&b));
	buf_fini(&b);
	return 0;
}

/* The config: base64 of a conflist we can run. */
static int
cni_cache_config(const json_t *root, struct cni_cache_entry *e,
    struct err *err)
{
	json_t *cfg = json_object_get(root, "config");
	struct cni_conf *c;

	if (!json_is_string(cfg) || cni_base64_decode(json_string_value(cfg),
	    json_string_length(cfg), &e->config, &e->config_len) < 0)
		return err_set(err, EINVAL, "cni cache: config is not base64");
	if ((c = cni_conf_parse(e->config, e->config_len, err)) == NULL)
		return err_wrap(err, "cni cache: config");
	/* The file name says which network; the config must agree. */
	if (strcmp(c->name, e->network) != 0) {
		err_set(err, EINVAL, "cni cache: config is network %s, entry "
		    "is %s", c->name, e->network);
		cni_conf_free(c);
		return -1;
	}
	cni_conf_free(c);
	return 0;
}

static int
cni_cache_fields(const json_t *root, struct cni_cache_entry *e,
    struct err *err)
{
	const json_t *caps = json_object_get(root, "capabilityArgs");
	json_t *res = json_object_get(root, "result");
	struct cni_result *r;

	if (!json_is_object(root) || !json_is_string(json_object_get(root,
	    "kind")) || strcmp(json_string_value(json_object_get(root,
	    "kind")), CNI_CACHE_KIND) != 0)
		return err_set(err, EINVAL, "cni cache: not a %s object",
		    CNI_CACHE_KIND);
	if (cni_cache_str(root, "containerId", e->container_id,
	    sizeof e->container_id, cni_name_valid, err) < 0 ||
	    cni_cache_str(root, "networkName", e->network, sizeof e->network,
	    cni_name_valid, err) < 0 ||
	    cni_cache_str(root, "ifName", e->ifname, sizeof e->ifname,
	    cni_ifname_valid, err) < 0 ||
	    cni_cache_config(root, e, err) < 0 ||
	    cni_cache_args(json_object_get(root, "cniArgs"), &e->cni_args,
	    err) < 0)
		return -1;
	if (json_string_value(json_object_get(root, "netns")) != NULL &&
	    json_string_length(json_object_get(root, "netns")) > 0 &&
	    json_string_length(json_object_get(root, "netns")) <= CNI_PATH_MAX)
		e->netns = xstrdup(json_string_value(json_object_get(root,
		    "netns")));
	if (caps != NULL && !json_is_null(caps)) {
		if (!json_is_object(caps))
			return err_set(err, EINVAL, "cni cache: capabilityArgs "
			    "is not an object");
		e->capability_args = json_dumps(caps, JSON_COMPACT);
	}
	if (res != NULL && !json_is_null(res)) {
		if (cni_result_check(res, &r, err) < 0)
			return err_wrap(err, "cni cache");
		cni_result_free(r);
		e->result = json_incref(res);
	}
	return 0;
}

int
cni_cache_parse(const char *json, size_t len, struct cni_cache_entry **out,
    struct err *err)
{
	struct cni_cache_entry *e;
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	if (len > CNI_CACHE_FILE_MAX)
		return err_set(err, EINVAL, "cni cache: %zu bytes", len);
	root = json_loadb(json, len, 0, &jerr);
	if (root == NULL)
		return err_set(err, EINVAL, "cni cache: bad JSON at line %d: %s",
		    jerr.line, jerr.text);
	e = xcalloc(1, sizeof *e);
	ret = cni_cache_fields(root, e, err);
	json_decref(root);
	if (ret < 0) {
		cni_cache_entry_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

/* Read a whole small file; ENOENT is reported as *data == NULL. */
static int
cni_cache_slurp(const char *path, char **data, size_t *len, struct err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	*data = NULL;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, errno, "cni cache: %s: %m", path);
	if (!S_ISREG(st.st_mode) || st.st_size > CNI_CACHE_FILE_MAX)
		return err_set(err, EINVAL, "cni cache: %s: not a regular file "
		    "of at most %u bytes", path, CNI_CACHE_FILE_MAX);
	*data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, *data, (size_t)st.st_size + 1);
	if (n < 0) {
		free(*data);
		*data = NULL;
		return err_set(err, errno, "cni cache: read %s: %m", path);
	}
	*len = (size_t)n;
	return 0;
}

int
cni_cache_read(const char *path, struct cni_cache_entry **out,
    struct err *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	*out = NULL;
	if (cni_cache_slurp(path, &data, &len, err) < 0)
		return -1;
	if (data == NULL)
		return 0;
	if (cni_cache_parse(data, len, out, err) < 0)
		return err_wrap(err, "%s", path);
	return 0;
}

/* CNI_ARGS "K=V;K2=V2" as libcni's [][2]string. */
static json_t *
cni_cache_args_json(const char *args)
{
	json_t *list = json_array();
	_cleanup_free_ char *copy = NULL;
	char *tok, *save = NULL, *eq;

	if (args == NULL)
		return list;
	copy = xstrdup(args);
	for (tok = strtok_r(copy, ";", &save); tok != NULL;
	    tok = strtok_r(NULL, ";", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			continue;
		*eq = '\0';
		json_array_append_new(list, json_pack("[ss]", tok, eq + 1));
	}
	return list;
}

/* mkdir -p, 0700: the entries name containers and their addresses. */
static int
cni_mkdirs(const char *dir, struct err *err)
{
	_cleanup_free_ char *p = xstrdup(dir);
	char *s;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return err_set(err, errno, "cni cache: mkdir %s: %m", p);
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return err_set(err, errno, "cni cache: mkdir %s: %m", p);
	return 0;
}

static json_t *
cni_cache_json(const struct cni_attach *a)
{
	_cleanup_free_ char *cfg = cni_base64_encode(a->conf->bytes,
	    a->conf->len);

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:O, s:O}",
	    "kind", CNI_CACHE_KIND, "containerId", a->container_id,
	    "config", cfg, "ifName", a->ifname, "networkName", a->conf->name,
	    "netns", a->netns != NULL ? a->netns : "",
	    "cniArgs", cni_cache_args_json(a->cni_args),
	    "capabilityArgs", a->cap_args != NULL ? a->cap_args :
	    json_null(), "result", a->prev != NULL ? a->prev : json_null());
}

/* Write data to path through path.tmp: fsync, then rename. */
static int
cni_write_atomic(const char *path, const char *data, struct err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return err_set(err, errno, "cni cache: %s: %m", tmp);
	if (write_all(fd, data, strlen(data)) < 0 || fsync(fd) < 0) {
		err_set(err, errno, "cni cache: write %s: %m", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		err_set(err, errno, "cni cache: rename to %s: %m", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
cni_cache_write(const struct cni_attach *a, struct err *err)
{
	json_t *o;
	char *s;
	int ret;

	if (cni_mkdirs(a->cache_dir, err) < 0)
		return -1;
	o = cni_cache_json(a);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return err_set(err, EINVAL, "cni cache: cannot encode the entry "
		    "for %s", a->cache_path);
	ret = cni_write_atomic(a->cache_path, s, err);
	free(s);
	return ret;
}

int
cni_cache_remove(const char *path, struct err *err)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, errno, "cni cache: remove %s: %m", path);
	return 0;
}

/* Add e to the list if it belongs to container id. */
static void
cni_cache_list_add(const struct cni_cache_entry *e, const char *id,
    struct cni_cache_ref **refs, size_t *n)
{
	if (strcmp(e->container_id, id) != 0)
		return;
	*refs = xreallocarray(*refs, *n + 1, sizeof **refs);
	str_copy((*refs)[*n].network, e->network, sizeof (*refs)[*n].network);
	str_copy((*refs)[*n].ifname, e->ifname, sizeof (*refs)[*n].ifname);
	(*n)++;
}

int
cni_cache_list(const char *dir, const char *id, struct cni_cache_ref **refs,
    size_t *n, struct err *err)
{
	struct cni_cache_entry *e;
	struct dirent *de;
	struct err perr;
	char *path;
	DIR *d;

	*refs = NULL;
	*n = 0;
	if (dir == NULL)
		dir = CNI_DEFAULT_CACHE_DIR;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : err_set(err, errno, "cni cache: "
		    "%s: %m", dir);
	while ((de = readdir(d)) != NULL) {
		/* Cheap filter first: the name must hold -<id>-. */
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || strstr(de->d_name, id) == NULL ||
		    (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (cni_cache_read(path, &e, &perr) < 0)
			log_warnx("cni cache=%s skipped: %s", path, perr.msg);
		else if (e != NULL)
			cni_cache_list_add(e, id, refs, n);
		cni_cache_entry_free(e);
		free(path);
	}
	closedir(d);
	return 0;
}

int
cni_cache_result(const char *dir, const char *network, const char *id,
    const char *ifname, struct cni_result **out, struct err *err)
{
	_cleanup_free_ char *path = NULL;
	struct cni_cache_entry *e = NULL;
	int rc;

	*out = NULL;
	if (!cni_name_valid(network) || !cni_name_valid(id) ||
	    !cni_ifname_valid(ifname))
		return err_set(err, EINVAL, "cni cache: invalid name");
	path = cni_cache_path(dir != NULL ? dir : CNI_DEFAULT_CACHE_DIR,
	    network, id, ifname);
	if (cni_cache_read(path, &e, err) < 0)
		return -1;
	if (e->result == NULL)
		rc = err_set(err, ENOENT, "cni cache %s: no result", path);
	else
		rc = cni_result_check(e->result, out, err);
	cni_cache_entry_free(e);
	return rc;
}

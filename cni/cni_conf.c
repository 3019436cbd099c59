/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network configuration lists (CNI spec, "Configuration format"): read
 * and checked once, when an attachment is made, so that the runner only
 * meets a known shape. And the per-plugin stdin of "Execution of Network
 * Configurations": the plugin's own object plus name, cniVersion,
 * prevResult and the runtimeConfig of the capabilities it declares.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/cni_int.h"

/* The spec's network name and container id: [A-Za-z0-9][A-Za-z0-9_.-]*. */
bool
cni_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CNI_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* Linux interface names: 1..15 bytes, no '/', ':' or whitespace. */
bool
cni_ifname_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CNI_IFNAME_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* A plugin type names a binary in a bin dir: no path separators. */
static bool
cni_type_valid(const char *s)
{
	return cni_ifname_valid(s) || (strlen(s) <= 64 && s[0] != '.' &&
	    strchr(s, '/') == NULL && s[0] != '\0');
}

void
cni_conf_free(struct cni_conf *c)
{
	if (c == NULL)
		return;
	json_decref(c->root);
	free(c->bytes);
	free(c);
}

static int
cni_conf_plugins(struct cni_conf *c, struct err *err)
{
	json_t *pl = json_object_get(c->root, "plugins"), *p;
	const char *type;
	size_t i;

	if (!json_is_array(pl) || json_array_size(pl) == 0)
		return err_set(err, EINVAL, "cni %s: conflist has no plugins "
		    "array", c->name);
	if (json_array_size(pl) > CNI_PLUGINS_MAX)
		return err_set(err, EINVAL, "cni %s: %zu plugins (at most %d)",
		    c->name, json_array_size(pl), CNI_PLUGINS_MAX);
	json_array_foreach(pl, i, p) {
		type = json_string_value(json_object_get(p, "type"));
		if (!json_is_object(p) || type == NULL || !cni_type_valid(type))
			return err_set(err, EINVAL, "cni %s: plugins[%zu]: "
			    "no valid type", c->name, i);
		c->plugins[c->nplugins++] = p;
	}
	return 0;
}

/* Check a conflist held in memory; bytes are copied. */
struct cni_conf *
cni_conf_parse(const char *bytes, size_t len, struct err *err)
{
	struct cni_conf *c = xcalloc(1, sizeof *c);
	const char *name, *ver;
	json_error_t jerr;

	if (len > CNI_CONFLIST_MAX) {
		err_set(err, EINVAL, "cni: conflist of %zu bytes (at most %u)",
		    len, CNI_CONFLIST_MAX);
		goto fail;
	}
	/* bytes need not be terminated (fuzzing, the cache's base64). */
	c->bytes = xmalloc(len + 1);
	memcpy(c->bytes, bytes, len);
	c->bytes[len] = '\0';
	c->len = len;
	c->root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(c->root)) {
		err_set(err, EINVAL, "cni: conflist is not a JSON object: %s "
		    "(line %d)", c->root == NULL ? jerr.text : "wrong type",
		    jerr.line);
		goto fail;
	}
	name = json_string_value(json_object_get(c->root, "name"));
	ver = json_string_value(json_object_get(c->root, "cniVersion"));
	if (name == NULL || !cni_name_valid(name)) {
		err_set(err, EINVAL, "cni: conflist has no valid name");
		goto fail;
	}
	str_copy(c->name, name, sizeof c->name);
	/* The result shapes we parse: 0.4.0 and 1.0.0 (spec "Result"). */
	if (ver == NULL || (strcmp(ver, "0.4.0") != 0 &&
	    strcmp(ver, "1.0.0") != 0)) {
		err_set(err, EINVAL, "cni %s: cniVersion %s not supported "
		    "(0.4.0 or 1.0.0)", c->name, ver != NULL ? ver : "missing");
		goto fail;
	}
	str_copy(c->version, ver, sizeof c->version);
	if (cni_conf_plugins(c, err) < 0)
		goto fail;
	return c;
fail:
	cni_conf_free(c);
	return NULL;
}

/* Read a conflist file (bounded) and check it. */
struct cni_conf *
cni_conf_load(const char *path, struct err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *data = NULL;
	struct cni_conf *c;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return err_set(err, errno, "cni: %s: %m", path), NULL;
	if (!S_ISREG(st.st_mode) || st.st_size > CNI_CONFLIST_MAX)
		return err_set(err, EINVAL, "cni: %s: not a regular file of "
		    "at most %u bytes", path, CNI_CONFLIST_MAX), NULL;
	data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size + 1);
	if (n < 0)
		return err_set(err, errno, "cni: read %s: %m", path), NULL;
	if ((c = cni_conf_parse(data, (size_t)n, err)) == NULL)
		err_wrap(err, "%s", path);
	return c;
}

/*
 * runtimeConfig (CONVENTIONS.md "Dynamic plugin specific fields"): only
 * the capabilities the plugin declares true, with the caller's values.
 */
static json_t *
cni_conf_runtime(const json_t *plugin, const json_t *cap_args)
{
	json_t *caps = json_object_get(plugin, "capabilities"), *v, *rc;
	const char *key;

	if (!json_is_object(caps) || !json_is_object(cap_args))
		return NULL;
	rc = json_object();
	json_object_foreach(caps, key, v) {
		json_t *arg = json_object_get(cap_args, key);

		if (json_is_true(v) && arg != NULL)
			json_object_set(rc, key, arg);
	}
	if (json_object_size(rc) == 0) {
		json_decref(rc);
		return NULL;
	}
	return rc;
}

json_t *
cni_conf_plugin_stdin(const struct cni_conf *c, int i, json_t *prev,
    json_t *cap_args)
{
	json_t *o = json_deep_copy(c->plugins[i]), *rc;

	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "cniVersion", json_string(c->version));
	json_object_del(o, "runtimeConfig");
	json_object_del(o, "prevResult");
	if ((rc = cni_conf_runtime(c->plugins[i], cap_args)) != NULL)
		json_object_set_new(o, "runtimeConfig", rc);
	if (prev != NULL)
		json_object_set(o, "prevResult", prev);
	return o;
}

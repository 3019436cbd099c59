/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's configuration: embedded defaults (no file needed), then an
 * optional JSON file, $KILN_CONFIG or /etc/kiln/config.json, checked field
 * by field with exact messages. docs/configuration.md documents it.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"

#define CONFIG_DEFAULT_PATH	"/etc/kiln/config.json"

static int	config_uint(json_t *, const char *, uint64_t, uint64_t,
		    uint64_t *, const char *, struct err *);
static int	config_string(json_t *, const char *, char **, const char *,
		    struct err *);
static int	config_cpu(json_t *, const char *, char **, const char *,
		    struct err *);
static int	config_bool(json_t *, const char *, bool *, const char *,
		    struct err *);
static int	config_jail_field(struct core_config *, const char *,
		    json_t *, const char *, struct err *);
static int	config_choice(json_t *, const char *, const char *const *,
		    char **, const char *, struct err *);

/* The guest image next to the binary: installed, or in the build tree. */
static char *
config_image_dir(void)
{
	char exe[PATH_MAX], *slash, *dir;
	const char *env = getenv("KILN_GUEST_DIR");
	ssize_t n;

	if (env != NULL)
		return xstrdup(env);
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return xstrdup("/usr/local/share/kiln");
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	dir = xasprintf("%s/../share/kiln", exe);
	if (access(dir, F_OK) == 0)
		return dir;
	free(dir);
	return xasprintf("%s/../guest", exe);
}

static void
config_defaults(struct core_config *c)
{
	memset(c, 0, sizeof *c);
	c->qemu = xstrdup("qemu-system-x86_64");
	c->image_dir = config_image_dir();
	c->kernel = xasprintf("%s/vmlinux", c->image_dir);
	c->initrd = xasprintf("%s/initrd.img", c->image_dir);
	c->accel = xstrdup("auto");
	c->transport = xstrdup("auto");
	c->vcpus = 1;
	c->mem_mib = 256;
	c->boot_timeout_ms = 60000;
	c->stop_timeout_ms = 5000;
	c->agent_timeout_ms = 30000;
	c->max_vcpus = 4;
	c->max_mem_mib = 2048;
	c->mem_overhead_mib = 64;
	c->cni_bin_dirs = xstrdup(CNI_DEFAULT_BIN_DIRS);
	c->cni_cache_dir = xstrdup(CNI_DEFAULT_CACHE_DIR);
	c->cni_timeout_ms = CNI_DEFAULT_TIMEOUT_MS;
	/*
	 * XXX: mapped-xattr would keep the guest's setuid bits and device
	 * nodes off the host, but QEMU 7.2 reads every symlink of a mapped
	 * share as a file (open O_NOFOLLOW: ELOOP), so an image's own
	 * symlinks (/bin/sh -> busybox) break. Passthrough until the rootfs
	 * moves to a block image; the jail still denies mknod (no caps).
	 */
	c->share_model = xstrdup("passthrough");
	/*
	 * The rootfs reaches the guest as a read-only EROFS image: nothing
	 * the guest writes reaches the host's snapshot (setuid bits, device
	 * nodes), and QEMU needs no access to the host's files.
	 */
	c->rootfs = xstrdup("erofs");
	c->mkfs_erofs = xstrdup("/usr/bin/mkfs.erofs");
	c->guest_bpf = true;
	c->jail_namespaces = true;
	/* QEMU needs no host file as root: the rootfs is an image (rootfs.c). */
	c->jail_user = true;
	c->jail_cgroup = true;
	c->jail_seccomp = true;
	c->jail_uid_base = 100000;
	c->jail_uid_count = 1000;
	c->jail_template_gid = 99999;
	c->jail_mem_overhead_mib = 256;
	c->jail_pids_max = 256;
	c->scaler = true;
	c->scaler_interval_ms = 5000;
	/*
	 * An idle container is sampled ever less often, up to every 40 s:
	 * each sample costs the emulated guest a GetMetrics (issue 15's
	 * idle CPU).
	 */
	c->scaler_idle_ms = 40000;
	c->scaler_up_samples = 2;
	c->scaler_down_samples = 6;
	/*
	 * Huge pages only inflate a small guest: QEMU madvises its RAM and
	 * the host's THP "madvise" mode then backs it with 2 MiB pages the
	 * guest touches a few bytes of (180 MiB per VM, issue 15).
	 */
	c->qemu_thp = false;
	/*
	 * 0: QEMU's own translation buffer. 64 MiB saved 13 MB of RSS, but a
	 * small buffer is split into small regions (2 MiB each) that the
	 * running vCPUs use up between flushes, and QEMU 7.2 asserts when a
	 * hot-added vCPU's thread finds none left (tcg/region.c,
	 * tcg_region_initial_alloc__locked): a scaler step killed the VM.
	 */
	c->tcg_tb_mib = 0;
	c->tcg_thread = xstrdup("multi");
	/* Stdout through an exec: 27-28 MiB/s with "max", 59-83 with this. */
	c->tcg_cpu = xstrdup(CORE_TCG_CPU);
	/*
	 * On: a restore answers in ~0.4 s instead of a cold boot's 2-3.5 s
	 * and its RAM stays shared (docs/benchmarks.md); any failure is a
	 * cold boot. The cost: the jail's read-write template RAM
	 * (docs/configuration.md, "Snapshot start").
	 */
	c->snapshot = true;
	c->template_dir = xstrdup("/var/lib/kiln/templates");
}

/* Memory and start-time knobs (issue 15). */
static int
config_start_field(struct core_config *c, const char *key, json_t *v,
    const char *origin, struct err *err)
{
	static const char *const rootfs_modes[] = { "erofs", "9p", NULL };
	static const char *const tcg_threads[] = { "multi", "single", NULL };
	uint64_t n;

	if (strcmp(key, "qemu_thp") == 0)
		return config_bool(v, key, &c->qemu_thp, origin, err);
	if (strcmp(key, "guest_bpf") == 0)
		return config_bool(v, key, &c->guest_bpf, origin, err);
	if (strcmp(key, "snapshot") == 0)
		return config_bool(v, key, &c->snapshot, origin, err);
	if (strcmp(key, "template_dir") == 0) {
		if (json_is_string(v) && json_string_value(v)[0] != '/')
			return err_set(err, EINVAL, "%s: template_dir: must be "
			    "an absolute path", origin);
		return config_string(v, key, &c->template_dir, origin, err);
	}
	if (strcmp(key, "rootfs") == 0)
		return config_choice(v, key, rootfs_modes, &c->rootfs, origin,
		    err);
	if (strcmp(key, "mkfs_erofs") == 0) {
		if (json_is_string(v) && json_string_value(v)[0] != '/')
			return err_set(err, EINVAL, "%s: mkfs_erofs: must be "
			    "an absolute path", origin);
		return config_string(v, key, &c->mkfs_erofs, origin, err);
	}
	if (strcmp(key, "tcg_cpu") == 0)
		return config_cpu(v, key, &c->tcg_cpu, origin, err);
	if (strcmp(key, "tcg_thread") == 0)
		return config_choice(v, key, tcg_threads, &c->tcg_thread,
		    origin, err);
	if (strcmp(key, "tcg_tb_mib") == 0) {
		if (config_uint(v, key, 0, 4096, &n, origin, err) < 0)
			return -1;
		c->tcg_tb_mib = (unsigned)n;
		return 0;
	}
	return config_jail_field(c, key, v, origin, err);
}

static int
config_bool(json_t *v, const char *key, bool *out, const char *origin,
    struct err *err)
{
	if (!json_is_boolean(v))
		return err_set(err, EINVAL, "%s: %s: must be true or false",
		    origin, key);
	*out = json_is_true(v);
	return 0;
}

/* The jail's knobs (jail.c) and the scaler's (scaler.c). */
static int
config_jail_field(struct core_config *c, const char *key, json_t *v,
    const char *origin, struct err *err)
{
	static const struct {
		const char	*name;
		size_t		 off;
		uint64_t	 lo, hi;
	} nums[] = {
		{ "jail_uid_base", offsetof(struct core_config, jail_uid_base),
		    1, 0x7fffffff },
		{ "jail_uid_count", offsetof(struct core_config,
		    jail_uid_count), 0, 65536 },
		{ "jail_template_gid", offsetof(struct core_config,
		    jail_template_gid), 1, 0x7fffffff },
		{ "jail_mem_overhead_mib", offsetof(struct core_config,
		    jail_mem_overhead_mib), 16, 65536 },
		{ "jail_pids_max", offsetof(struct core_config,
		    jail_pids_max), 16, 65536 },
		{ "scaler_up_samples", offsetof(struct core_config,
		    scaler_up_samples), 1, 100 },
		{ "scaler_down_samples", offsetof(struct core_config,
		    scaler_down_samples), 1, 100 },
	};
	uint64_t n;
	size_t i;

	if (strcmp(key, "scaler") == 0)
		return config_bool(v, key, &c->scaler, origin, err);
	if (strcmp(key, "scaler_interval_ms") == 0)
		return config_uint(v, key, 100, 600000,
		    &c->scaler_interval_ms, origin, err);
	if (strcmp(key, "scaler_idle_ms") == 0)
		return config_uint(v, key, 100, 600000,
		    &c->scaler_idle_ms, origin, err);
	if (strcmp(key, "jail_namespaces") == 0)
		return config_bool(v, key, &c->jail_namespaces, origin, err);
	if (strcmp(key, "jail_user") == 0)
		return config_bool(v, key, &c->jail_user, origin, err);
	if (strcmp(key, "jail_cgroup") == 0)
		return config_bool(v, key, &c->jail_cgroup, origin, err);
	if (strcmp(key, "jail_seccomp") == 0)
		return config_bool(v, key, &c->jail_seccomp, origin, err);
	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		if (strcmp(key, nums[i].name) != 0)
			continue;
		if (config_uint(v, key, nums[i].lo, nums[i].hi, &n, origin,
		    err) < 0)
			return -1;
		*(unsigned *)(void *)((char *)c + nums[i].off) = (unsigned)n;
		return 0;
	}
	return err_set(err, EINVAL, "%s: %s: unknown field", origin, key);
}

static int
config_string(json_t *v, const char *key, char **out, const char *origin,
    struct err *err)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return err_set(err, EINVAL, "%s: %s: must be a non-empty "
		    "string", origin, key);
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

/*
 * A QEMU CPU model with its feature switches ("Westmere,+rdrand"): one
 * argv word, so only what such a word is made of.
 */
static int
config_cpu(json_t *v, const char *key, char **out, const char *origin,
    struct err *err)
{
	const char *s = json_string_value(v);

	if (s == NULL || s[0] == '\0' || strlen(s) > 256 ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789,+-_.=") != strlen(s))
		return err_set(err, EINVAL, "%s: %s: must be a QEMU CPU model "
		    "and features (letters, digits and ,+-_.=)", origin, key);
	return config_string(v, key, out, origin, err);
}

static int
config_uint(json_t *v, const char *key, uint64_t lo, uint64_t hi,
    uint64_t *out, const char *origin, struct err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
	    json_integer_value(v) > (json_int_t)hi)
		return err_set(err, EINVAL, "%s: %s: must be an integer from "
		    "%llu to %llu", origin, key, (unsigned long long)lo,
		    (unsigned long long)hi);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
config_choice(json_t *v, const char *key, const char *const *choices,
    char **out, const char *origin, struct err *err)
{
	char list[256] = "";
	size_t i, n = 0;

	for (i = 0; choices[i] != NULL; i++) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), choices[i]) == 0)
			return config_string(v, key, out, origin, err);
		n += (size_t)snprintf(list + n, n < sizeof list ?
		    sizeof list - n : 0, "%s%s", i > 0 ? ", " : "", choices[i]);
	}
	return err_set(err, EINVAL, "%s: %s: must be one of %s", origin, key,
	    list);
}

/* One field; unknown names are errors, so typos do not pass silently. */
static int
config_field(struct core_config *c, const char *key, json_t *v,
    const char *origin, struct err *err)
{
	static const char *const accels[] = { "auto", "kvm", "tcg", NULL };
	static const char *const transports[] = { "auto", "serial", "vsock",
	    NULL };
	static const char *const models[] = { "mapped-xattr", "passthrough",
	    "none", NULL };
	uint64_t n;

	if (strcmp(key, "qemu") == 0)
		return config_string(v, key, &c->qemu, origin, err);
	if (strcmp(key, "kernel") == 0)
		return config_string(v, key, &c->kernel, origin, err);
	if (strcmp(key, "initrd") == 0)
		return config_string(v, key, &c->initrd, origin, err);
	if (strcmp(key, "image_dir") == 0)
		return config_string(v, key, &c->image_dir, origin, err);
	if (strcmp(key, "trace_file") == 0)
		return config_string(v, key, &c->trace_file, origin, err);
	if (strcmp(key, "cni_conflist") == 0)
		return config_string(v, key, &c->cni_conflist, origin, err);
	if (strcmp(key, "cni_bin_dirs") == 0)
		return config_string(v, key, &c->cni_bin_dirs, origin, err);
	if (strcmp(key, "cni_cache_dir") == 0)
		return config_string(v, key, &c->cni_cache_dir, origin, err);
	if (strcmp(key, "cni_timeout_ms") == 0)
		return config_uint(v, key, 100, 600000, &c->cni_timeout_ms,
		    origin, err);
	if (strcmp(key, "accel") == 0)
		return config_choice(v, key, accels, &c->accel, origin, err);
	if (strcmp(key, "transport") == 0)
		return config_choice(v, key, transports, &c->transport, origin,
		    err);
	if (strcmp(key, "debug") == 0) {
		if (!json_is_boolean(v))
			return err_set(err, EINVAL, "%s: debug: must be true "
			    "or false", origin);
		c->debug = json_is_true(v);
		return 0;
	}
	if (strcmp(key, "vcpus") == 0) {
		if (config_uint(v, key, 1, 64, &n, origin, err) < 0)
			return -1;
		c->vcpus = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "memory_mib") == 0) {
		if (config_uint(v, key, 64, 65536, &n, origin, err) < 0)
			return -1;
		c->mem_mib = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "max_vcpus") == 0) {
		if (config_uint(v, key, 1, 64, &n, origin, err) < 0)
			return -1;
		c->max_vcpus = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "max_memory_mib") == 0) {
		if (config_uint(v, key, 64, 1048576, &n, origin, err) < 0)
			return -1;
		c->max_mem_mib = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "memory_overhead_mib") == 0) {
		if (config_uint(v, key, 0, 65536, &n, origin, err) < 0)
			return -1;
		c->mem_overhead_mib = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "boot_timeout_ms") == 0)
		return config_uint(v, key, 1000, 600000, &c->boot_timeout_ms,
		    origin, err);
	if (strcmp(key, "agent_timeout_ms") == 0)
		return config_uint(v, key, 100, 600000, &c->agent_timeout_ms,
		    origin, err);
	if (strcmp(key, "stop_timeout_ms") == 0)
		return config_uint(v, key, 100, 600000, &c->stop_timeout_ms,
		    origin, err);
	if (strcmp(key, "share_model") == 0)
		return config_choice(v, key, models, &c->share_model, origin,
		    err);
	return config_start_field(c, key, v, origin, err);
}

/* image_dir moves the kernel and initrd unless the file names them. */
static void
config_follow_image_dir(struct core_config *c, const json_t *j)
{
	if (json_object_get(j, "image_dir") == NULL)
		return;
	if (json_object_get(j, "kernel") == NULL) {
		free(c->kernel);
		c->kernel = xasprintf("%s/vmlinux", c->image_dir);
	}
	if (json_object_get(j, "initrd") == NULL) {
		free(c->initrd);
		c->initrd = xasprintf("%s/initrd.img", c->image_dir);
	}
}

int
core_config_parse(struct core_config *c, const char *text, size_t len,
    const char *origin, struct err *err)
{
	json_error_t jerr;
	const char *key;
	json_t *j, *v;
	int ret = 0;

	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return err_set(err, EINVAL, "%s: line %d: %s", origin,
		    jerr.line, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(err, EINVAL, "%s: must be a JSON object",
		    origin);
	}
	json_object_foreach(j, key, v)
		if ((ret = config_field(c, key, v, origin, err)) < 0)
			break;
	if (ret == 0)
		config_follow_image_dir(c, j);
	json_decref(j);
	return ret;
}

int
core_config_load(struct core_config *c, struct err *err)
{
	const char *path = getenv("KILN_CONFIG");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f;

	config_defaults(c);
	if (path == NULL || path[0] == '\0')
		path = CONFIG_DEFAULT_PATH;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && getenv("KILN_CONFIG") == NULL)
			return 0;
		return err_set(err, errno, "%s: %m", path);
	}
	text = xmalloc(1 << 20);
	len = fread(text, 1, 1 << 20, f);
	fclose(f);
	if (len == 1 << 20)
		return err_set(err, E2BIG, "%s: larger than 1 MiB", path);
	return core_config_parse(c, text, len, path, err);
}

void
core_config_fini(struct core_config *c)
{
	free(c->qemu);
	free(c->kernel);
	free(c->initrd);
	free(c->image_dir);
	free(c->accel);
	free(c->transport);
	free(c->trace_file);
	free(c->cni_conflist);
	free(c->cni_bin_dirs);
	free(c->cni_cache_dir);
	free(c->share_model);
	free(c->rootfs);
	free(c->tcg_thread);
	free(c->tcg_cpu);
	free(c->mkfs_erofs);
	free(c->template_dir);
	memset(c, 0, sizeof *c);
}

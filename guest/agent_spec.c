/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime spec the host sends, checked and adapted for the guest
 * before crun sees it. The host is the agent's only peer, but a spec is
 * still input: size, JSON shape, args, cwd and env are checked; what only
 * makes sense on the host (hooks, bind mounts of host paths) is removed;
 * root and cgroup are set by the agent, never taken from the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/agent.h"

static int
spec_bad(struct err *err, const char *what)
{
	return err_set(err, EINVAL, "invalid OCI spec: %s", what);
}

/* An array of strings with at least min entries, none absurdly long. */
static bool
spec_strings(const json_t *a, size_t min)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) < min ||
	    json_array_size(a) > 4096)
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v) || json_string_length(v) > 65536)
			return false;
	return true;
}

/* process: args (non-empty), cwd (absolute), env. */
static int
spec_check_process(json_t *proc, struct err *err)
{
	const json_t *cwd, *env;

	if (!json_is_object(proc))
		return spec_bad(err, "process is not an object");
	if (!spec_strings(json_object_get(proc, "args"), 1))
		return spec_bad(err, "process.args must be a non-empty "
		    "array of strings");
	cwd = json_object_get(proc, "cwd");
	if (cwd != NULL && (!json_is_string(cwd) ||
	    json_string_value(cwd)[0] != '/'))
		return spec_bad(err, "process.cwd must be an absolute path");
	env = json_object_get(proc, "env");
	if (env != NULL && !spec_strings(env, 0))
		return spec_bad(err, "process.env must be an array of strings");
	return 0;
}

static json_t *
spec_parse(const uint8_t *data, size_t len, struct err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len == 0 || len > AGENT_MAX_SPEC)
		return spec_bad(err, "size out of range"), NULL;
	j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return err_set(err, EINVAL, "invalid OCI spec: line %d: %s",
		    jerr.line, jerr.text), NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		return spec_bad(err, "not a JSON object"), NULL;
	}
	return j;
}

/* Drop bind mounts: their sources are host paths the guest lacks. */
static void
spec_drop_host_mounts(json_t *spec)
{
	json_t *mounts = json_object_get(spec, "mounts"), *m;
	size_t i;

	if (!json_is_array(mounts))
		return;
	for (i = 0; i < json_array_size(mounts); ) {
		const char *type, *src;

		m = json_array_get(mounts, i);
		type = json_string_value(json_object_get(m, "type"));
		src = json_string_value(json_object_get(m, "source"));
		if (type != NULL && strcmp(type, "bind") == 0 && src != NULL &&
		    access(src, F_OK) < 0) {
			log_debug("mount of host path %s dropped", src);
			json_array_remove(mounts, i);
			continue;
		}
		i++;
	}
}

/* The /proc/PID/ns/ name of an OCI namespace type, or NULL. */
static const char *
spec_ns_proc_name(const char *type)
{
	static const char *const names[][2] = {
		{ "pid", "pid" }, { "ipc", "ipc" }, { "uts", "uts" },
		{ "mount", "mnt" }, { "user", "user" }, { "cgroup", "cgroup" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(type, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

/*
 * The VM is the container's network boundary: the container shares the
 * guest's network namespace, where the agent configures the NICs. A path
 * in the spec names a host namespace the guest cannot open (CRI's): in a
 * pod it becomes the sandbox container's (join_pid), else a new one.
 */
static void
spec_guest_namespaces(json_t *linux_, pid_t join_pid)
{
	json_t *nss = json_object_get(linux_, "namespaces"), *ns;
	const char *type, *proc;
	char path[64];
	size_t i;

	if (!json_is_array(nss))
		return;
	for (i = 0; i < json_array_size(nss); i++) {
		ns = json_array_get(nss, i);
		type = json_string_value(json_object_get(ns, "type"));
		if (type != NULL && strcmp(type, "network") == 0) {
			json_array_remove(nss, i--);
			continue;
		}
		if (!json_is_object(ns) ||
		    json_object_get(ns, "path") == NULL)
			continue;
		proc = type != NULL ? spec_ns_proc_name(type) : NULL;
		if (join_pid <= 0 || proc == NULL) {
			json_object_del(ns, "path");
			continue;
		}
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)join_pid,
		    proc);
		json_object_set_new(ns, "path", json_string(path));
	}
}

json_t *
agent_spec_prepare(const uint8_t *data, size_t len, const char *id,
    const char *rootfs, pid_t join_pid, struct err *err)
{
	json_t *spec, *root, *linux_;
	char cgroup[160];

	if ((spec = spec_parse(data, len, err)) == NULL)
		return NULL;
	if (!json_is_string(json_object_get(spec, "ociVersion"))) {
		spec_bad(err, "ociVersion missing");
		json_decref(spec);
		return NULL;
	}
	if (spec_check_process(json_object_get(spec, "process"), err) < 0) {
		json_decref(spec);
		return NULL;
	}
	root = json_object();
	json_object_set_new(root, "path", json_string(rootfs));
	json_object_set_new(spec, "root", root);
	json_object_del(spec, "hooks");
	linux_ = json_object_get(spec, "linux");
	if (!json_is_object(linux_)) {
		linux_ = json_object();
		json_object_set_new(spec, "linux", linux_);
	}
	snprintf(cgroup, sizeof cgroup, "/%s/%s", AGENT_CGROUP_PARENT, id);
	json_object_set_new(linux_, "cgroupsPath", json_string(cgroup));
	spec_guest_namespaces(linux_, join_pid);
	spec_drop_host_mounts(spec);
	return spec;
}

json_t *
agent_spec_process(const uint8_t *data, size_t len, struct err *err)
{
	json_t *proc;

	if ((proc = spec_parse(data, len, err)) == NULL)
		return NULL;
	if (spec_check_process(proc, err) < 0) {
		json_decref(proc);
		return NULL;
	}
	return proc;
}

int
agent_json_write(const json_t *j, const char *path, struct err *err)
{
	if (json_dump_file(j, path, JSON_COMPACT) < 0)
		return err_set(err, EIO, "write %s", path);
	return 0;
}

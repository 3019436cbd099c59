/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the agent's OCI spec checks (guest/agent_spec.c). The
 * input is what the host sends as CreateContainerRequest.spec_json; it
 * goes through agent_spec_prepare() as a container's config.json and
 * through agent_spec_process() as an ExecProcessRequest.process_json.
 * Whatever the bytes, nothing may crash, leak or trip a sanitizer; a spec
 * that is accepted must come out the way crun is to see it: the agent's
 * root and cgroup, no hooks, no bind mount of a path the guest lacks, and
 * a process with a non-empty args array of strings.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest/agent.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_ID		"fuzz-ctr"
#define FZ_ROOTFS	"/run/kiln/fuzz-ctr/rootfs"


static bool	fz_ready;

static void
fz_setup(void)
{
	if (fz_ready)
		return;
	fz_ready = true;
	log_init("fuzz", LOG_LVL_ERROR, -1);
}

static bool
fz_str_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* What spec_check_process() promises about an accepted process. */
static void
fz_check_process(const json_t *proc)
{
	const json_t *args, *cwd;

	FZ_ASSERT(json_is_object(proc));
	args = json_object_get(proc, "args");
	FZ_ASSERT(json_is_array(args) && json_array_size(args) > 0);
	FZ_ASSERT(json_is_string(json_array_get(args, 0)));
	cwd = json_object_get(proc, "cwd");
	FZ_ASSERT(cwd == NULL || (json_is_string(cwd) &&
	    json_string_value(cwd)[0] == '/'));
}

/* What agent_spec_prepare() promises about the spec it returns. */
static void
fz_check_spec(const json_t *spec)
{
	const json_t *linux_, *mounts, *m;
	const char *type, *src;
	size_t i;

	FZ_ASSERT(json_is_object(spec));
	FZ_ASSERT(json_is_string(json_object_get(spec, "ociVersion")));
	fz_check_process(json_object_get(spec, "process"));
	FZ_ASSERT(fz_str_is(json_object_get(json_object_get(spec, "root"),
	    "path"), FZ_ROOTFS));
	FZ_ASSERT(json_object_get(spec, "hooks") == NULL);
	linux_ = json_object_get(spec, "linux");
	FZ_ASSERT(json_is_object(linux_));
	FZ_ASSERT(fz_str_is(json_object_get(linux_, "cgroupsPath"),
	    "/" AGENT_CGROUP_PARENT "/" FZ_ID));
	/* No host namespace path survives: the guest's own, or the pod's. */
	json_array_foreach(json_object_get(linux_, "namespaces"), i, m) {
		type = json_string_value(json_object_get(m, "type"));
		src = json_string_value(json_object_get(m, "path"));
		FZ_ASSERT(type == NULL || strcmp(type, "network") != 0);
		FZ_ASSERT(json_object_get(m, "path") == NULL ||
		    (src != NULL && strncmp(src, "/proc/7/ns/", 11) == 0));
	}
	mounts = json_object_get(spec, "mounts");
	json_array_foreach(mounts, i, m) {
		type = json_string_value(json_object_get(m, "type"));
		src = json_string_value(json_object_get(m, "source"));
		FZ_ASSERT(type == NULL || strcmp(type, "bind") != 0 ||
		    src == NULL || access(src, F_OK) == 0);
	}
}

/* The rewritten spec must serialise (it is written as config.json). */
static void
fz_dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	FZ_ASSERT(s != NULL);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err err;
	json_t *j;

	fz_setup();
	memset(&err, 0, sizeof err);
	j = agent_spec_prepare(data, size, FZ_ID, FZ_ROOTFS,
	    size % 2 == 0 ? 0 : 7, &err);
	if (j != NULL) {
		fz_check_spec(j);
		fz_dump(j);
		json_decref(j);
	} else
		FZ_ASSERT(err.code != 0 && err.msg[0] != '\0');

	memset(&err, 0, sizeof err);
	j = agent_spec_process(data, size, &err);
	if (j != NULL) {
		fz_check_process(j);
		fz_dump(j);
		json_decref(j);
	} else
		FZ_ASSERT(err.code != 0 && err.msg[0] != '\0');
	return 0;
}

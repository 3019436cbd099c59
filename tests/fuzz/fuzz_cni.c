/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for what the CNI runner reads from outside: plugin results
 * (cni_result_parse), libcni cache entries (cni_cache_parse: base64 config,
 * cniArgs pairs, the embedded result) and conflists (cni_conf_parse plus
 * the per-plugin stdin built from them). The first byte picks the parser
 * (modulo 3); the rest is the document. Whatever the bytes, nothing may
 * crash, leak or trip a sanitizer, and an accepted result must keep the
 * promises of cni.h: bounded counts, prefixes in range, interface indexes
 * inside interfaces[].
 */
#include <stdio.h>
#include <sys/socket.h>

#include "cni/cni_int.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


static void
fz_result(const char *s, size_t len)
{
	struct cni_result *r;
	struct err err;
	size_t i;

	if (cni_result_parse(s, len, &r, &err) < 0) {
		FZ_ASSERT(r == NULL);
		return;
	}
	FZ_ASSERT(r->ninterfaces <= CNI_RESULT_MAX && r->nips <=
	    CNI_RESULT_MAX && r->nroutes <= CNI_RESULT_MAX);
	for (i = 0; i < r->nips; i++) {
		FZ_ASSERT(r->ips[i].family == AF_INET ||
		    r->ips[i].family == AF_INET6);
		FZ_ASSERT(r->ips[i].prefix_len <= (r->ips[i].family ==
		    AF_INET ? 32u : 128u));
		FZ_ASSERT(r->ips[i].interface >= -1 && r->ips[i].interface <
		    (int)r->ninterfaces);
	}
	for (i = 0; i < r->nroutes; i++)
		FZ_ASSERT(r->routes[i].dst_prefix <= 128);
	cni_result_free(r);
}

static void
fz_cache(const char *s, size_t len)
{
	struct cni_cache_entry *e;
	struct err err;

	if (cni_cache_parse(s, len, &e, &err) < 0) {
		FZ_ASSERT(e == NULL);
		return;
	}
	FZ_ASSERT(e->config != NULL && cni_name_valid(e->network));
	cni_cache_entry_free(e);
}

static void
fz_conf(const char *s, size_t len)
{
	json_t *caps = json_pack("{s:s}", "portMappings", "x");
	struct cni_conf *c;
	struct err err;
	int i;

	if ((c = cni_conf_parse(s, len, &err)) != NULL) {
		FZ_ASSERT(c->nplugins >= 1 && c->nplugins <= CNI_PLUGINS_MAX);
		for (i = 0; i < c->nplugins; i++)
			json_decref(cni_conf_plugin_stdin(c, i, NULL, caps));
	}
	cni_conf_free(c);
	json_decref(caps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1)
		return 0;
	log_init("fuzz", LOG_LVL_ERROR, -1);
	switch (data[0] % 3) {
	case 0:
		fz_result(s, size - 1);
		break;
	case 1:
		fz_cache(s, size - 1);
		break;
	default:
		fz_conf(s, size - 1);
		break;
	}
	return 0;
}

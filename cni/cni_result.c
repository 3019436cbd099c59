/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CNI result parser (spec "Result"; 0.4.0 adds ips[].version). What a
 * plugin prints is untrusted input that ends up configuring a guest NIC,
 * so everything is checked: types, bounded counts and string lengths,
 * addresses through inet_pton, prefixes in range, interface indexes inside
 * interfaces[], MACs as six hex octets. Unknown members are ignored, as
 * the spec allows. Any failure is EINVAL naming the field; nothing here
 * may crash, whatever the bytes (tests/fuzz/fuzz_cni.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cni/cni_int.h"

void
cni_result_free(struct cni_result *r)
{
	free(r);
}

/* member of o: NULL when absent, else it must have type t. */
static int
cni_member(const json_t *o, const char *key, json_type t, const char *where,
    json_t **out, struct err *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_typeof(v) != t)
		return err_set(err, EINVAL, "cni result: %s%s%s: wrong type",
		    where, where[0] != '\0' ? "." : "", key);
	*out = v;
	return 0;
}

/* A string member copied into dst[n]; absent leaves dst "" unless req. */
static int
cni_str(const json_t *o, const char *key, bool req, char *dst, size_t n,
    const char *where, struct err *err)
{
	json_t *v;

	if (cni_member(o, key, JSON_STRING, where, &v, err) < 0)
		return -1;
	if (v == NULL)
		return req ? err_set(err, EINVAL, "cni result: %s.%s: missing",
		    where, key) : 0;
	if (json_string_length(v) >= n || strlen(json_string_value(v)) !=
	    json_string_length(v))
		return err_set(err, EINVAL, "cni result: %s.%s: longer than "
		    "%zu bytes or has NUL", where, key, n - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* An address of either family; canonical text into out. */
static int
cni_addr(const char *s, int *family, uint8_t bin[16], char out[CNI_ADDR_MAX])
{
	if (inet_pton(AF_INET, s, bin) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, s, bin) == 1)
		*family = AF_INET6;
	else
		return -1;
	if (inet_ntop(*family, bin, out, CNI_ADDR_MAX) == NULL)
		return -1;
	return 0;
}

/* "addr/len" with len in range for the family. */
static int
cni_cidr(const char *s, int *family, char out[CNI_ADDR_MAX],
    unsigned *prefix)
{
	char buf[CNI_ADDR_MAX + 8];
	const char *slash = strchr(s, '/'), *p;
	uint8_t bin[16];
	unsigned n = 0;

	if (slash == NULL || (size_t)(slash - s) >= CNI_ADDR_MAX ||
	    slash[1] == '\0' || strlen(slash + 1) > 3)
		return -1;
	for (p = slash + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (unsigned)(*p - '0');
	}
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (cni_addr(buf, family, bin, out) < 0)
		return -1;
	if (n > (*family == AF_INET ? 32u : 128u))
		return -1;
	*prefix = n;
	return 0;
}

/* Six hex octets separated by ':' (lower-cased into out). */
static bool
cni_mac_valid(const char *s, char out[18])
{
	int i;

	if (strlen(s) != 17)
		return false;
	for (i = 0; i < 17; i++) {
		char c = s[i];

		if (i % 3 == 2) {
			if (c != ':')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return false;
		out[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	out[17] = '\0';
	return true;
}

/* An array member with at most CNI_RESULT_MAX items (absent: NULL). */
static int
cni_list(const json_t *o, const char *key, const char *where, json_t **out,
    struct err *err)
{
	if (cni_member(o, key, JSON_ARRAY, where, out, err) < 0)
		return -1;
	if (*out != NULL && json_array_size(*out) > CNI_RESULT_MAX)
		return err_set(err, EINVAL, "cni result: %s%s%s: %zu items "
		    "(at most %d)", where, where[0] != '\0' ? "." : "", key,
		    json_array_size(*out), CNI_RESULT_MAX);
	return 0;
}

static int
cni_parse_iface(const json_t *o, struct cni_interface *ifc, const char *w,
    struct err *err)
{
	char mac[32] = "";

	if (!json_is_object(o))
		return err_set(err, EINVAL, "cni result: %s: not an object", w);
	if (cni_str(o, "name", true, ifc->name, sizeof ifc->name, w, err) < 0 ||
	    cni_str(o, "mac", false, mac, sizeof mac, w, err) < 0 ||
	    cni_str(o, "sandbox", false, ifc->sandbox, sizeof ifc->sandbox, w,
	    err) < 0)
		return -1;
	if (!cni_ifname_valid(ifc->name))
		return err_set(err, EINVAL, "cni result: %s.name: not an "
		    "interface name", w);
	if (mac[0] != '\0' && !cni_mac_valid(mac, ifc->mac))
		return err_set(err, EINVAL, "cni result: %s.mac: not a MAC "
		    "address", w);
	return 0;
}

/* ips[].interface: an integer index into interfaces[]. */
static int
cni_parse_ifindex(const json_t *o, size_t nifaces, int *out, const char *w,
    struct err *err)
{
	json_t *v = json_object_get(o, "interface");
	json_int_t i;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(err, EINVAL, "cni result: %s.interface: not an "
		    "integer", w);
	i = json_integer_value(v);
	if (i < 0 || (size_t)i >= nifaces)
		return err_set(err, EINVAL, "cni result: %s.interface: %lld "
		    "outside interfaces[%zu]", w, (long long)i, nifaces);
	*out = (int)i;
	return 0;
}

static int
cni_parse_ip(const json_t *o, struct cni_ip *ip, size_t nifaces,
    const char *w, struct err *err)
{
	char s[CNI_ADDR_MAX + 8] = "", gw[CNI_ADDR_MAX] = "", ver[4] = "";
	uint8_t bin[16];
	int gfam;

	if (!json_is_object(o))
		return err_set(err, EINVAL, "cni result: %s: not an object", w);
	if (cni_str(o, "address", true, s, sizeof s, w, err) < 0 ||
	    cni_str(o, "gateway", false, gw, sizeof gw, w, err) < 0 ||
	    cni_str(o, "version", false, ver, sizeof ver, w, err) < 0)
		return -1;
	if (cni_cidr(s, &ip->family, ip->address, &ip->prefix_len) < 0)
		return err_set(err, EINVAL, "cni result: %s.address: not an "
		    "address/prefix", w);
	if (gw[0] != '\0' && (cni_addr(gw, &gfam, bin, ip->gateway) < 0 ||
	    gfam != ip->family))
		return err_set(err, EINVAL, "cni result: %s.gateway: not an "
		    "address of the same family", w);
	/* 0.4.0 only; 1.0.0 dropped it. */
	if (ver[0] != '\0' && strcmp(ver, ip->family == AF_INET ? "4" : "6")
	    != 0)
		return err_set(err, EINVAL, "cni result: %s.version: %s does "
		    "not match the address", w, ver);
	return cni_parse_ifindex(o, nifaces, &ip->interface, w, err);
}

/* routes[].mtu and .advmss: optional integers in 0..65535. */
static int
cni_parse_u16(const json_t *o, const char *key, unsigned *out, const char *w,
    struct err *err)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 65535)
		return err_set(err, EINVAL, "cni result: %s.%s: not an integer "
		    "in 0..65535", w, key);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int
cni_parse_route(const json_t *o, struct cni_route *rt, const char *w,
    struct err *err)
{
	char s[CNI_ADDR_MAX + 8] = "", gw[CNI_ADDR_MAX] = "";
	uint8_t bin[16];
	int gfam;

	if (!json_is_object(o))
		return err_set(err, EINVAL, "cni result: %s: not an object", w);
	if (cni_str(o, "dst", true, s, sizeof s, w, err) < 0 ||
	    cni_str(o, "gw", false, gw, sizeof gw, w, err) < 0)
		return -1;
	if (cni_cidr(s, &rt->family, rt->dst, &rt->dst_prefix) < 0)
		return err_set(err, EINVAL, "cni result: %s.dst: not an "
		    "address/prefix", w);
	if (gw[0] != '\0' && (cni_addr(gw, &gfam, bin, rt->gw) < 0 ||
	    gfam != rt->family))
		return err_set(err, EINVAL, "cni result: %s.gw: not an address "
		    "of the same family", w);
	if (cni_parse_u16(o, "mtu", &rt->mtu, w, err) < 0 ||
	    cni_parse_u16(o, "advmss", &rt->advmss, w, err) < 0)
		return -1;
	return 0;
}

/* A list of bounded strings into rows of width n. */
static int
cni_parse_strings(const json_t *dns, const char *key, char *rows, size_t n,
    size_t *count, struct err *err)
{
	json_t *list, *v;
	char w[32];
	size_t i;

	if (cni_list(dns, key, "dns", &list, err) < 0)
		return -1;
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		snprintf(w, sizeof w, "dns.%s[%zu]", key, i);
		if (s == NULL || json_string_length(v) >= n ||
		    strlen(s) != json_string_length(v))
			return err_set(err, EINVAL, "cni result: %s: not a "
			    "string of at most %zu bytes", w, n - 1);
		memcpy(rows + i * n, s, strlen(s) + 1);
		*count = i + 1;
	}
	return 0;
}

static int
cni_parse_dns(const json_t *root, struct cni_dns *d, struct err *err)
{
	json_t *dns;
	uint8_t bin[16];
	size_t i;
	int fam;

	if (cni_member(root, "dns", JSON_OBJECT, "", &dns, err) < 0)
		return -1;
	if (dns == NULL)
		return 0;
	if (cni_str(dns, "domain", false, d->domain, sizeof d->domain, "dns",
	    err) < 0 ||
	    cni_parse_strings(dns, "nameservers", &d->nameservers[0][0],
	    sizeof d->nameservers[0], &d->nnameservers, err) < 0 ||
	    cni_parse_strings(dns, "search", &d->search[0][0],
	    sizeof d->search[0], &d->nsearch, err) < 0 ||
	    cni_parse_strings(dns, "options", &d->options[0][0],
	    sizeof d->options[0], &d->noptions, err) < 0)
		return -1;
	for (i = 0; i < d->nnameservers; i++)
		if (cni_addr(d->nameservers[i], &fam, bin, d->nameservers[i]) < 0)
			return err_set(err, EINVAL, "cni result: "
			    "dns.nameservers[%zu]: not an address", i);
	return 0;
}

/* interfaces[], then ips[] (which index it), then routes[]. */
static int
cni_parse_lists(const json_t *root, struct cni_result *r, struct err *err)
{
	json_t *list, *v;
	char w[32];
	size_t i;

	if (cni_list(root, "interfaces", "", &list, err) < 0)
		return -1;
	json_array_foreach(list, i, v) {
		snprintf(w, sizeof w, "interfaces[%zu]", i);
		if (cni_parse_iface(v, &r->interfaces[i], w, err) < 0)
			return -1;
		r->ninterfaces = i + 1;
	}
	if (cni_list(root, "ips", "", &list, err) < 0)
		return -1;
	json_array_foreach(list, i, v) {
		snprintf(w, sizeof w, "ips[%zu]", i);
		if (cni_parse_ip(v, &r->ips[i], r->ninterfaces, w, err) < 0)
			return -1;
		r->nips = i + 1;
	}
	if (cni_list(root, "routes", "", &list, err) < 0)
		return -1;
	json_array_foreach(list, i, v) {
		snprintf(w, sizeof w, "routes[%zu]", i);
		if (cni_parse_route(v, &r->routes[i], w, err) < 0)
			return -1;
		r->nroutes = i + 1;
	}
	return 0;
}

/* The same checks on a document already decoded (the runner's path). */
static int
cni_result_from_json(const json_t *root, struct cni_result **out,
    struct err *err)
{
	struct cni_result *r;

	*out = NULL;
	if (!json_is_object(root))
		return err_set(err, EINVAL, "cni result: not a JSON object");
	r = xcalloc(1, sizeof *r);
	if (cni_str(root, "cniVersion", true, r->cni_version,
	    sizeof r->cni_version, "result", err) < 0 ||
	    cni_parse_lists(root, r, err) < 0 ||
	    cni_parse_dns(root, &r->dns, err) < 0) {
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
cni_result_parse(const char *json, size_t len, struct cni_result **out,
    struct err *err)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	if (len > CNI_OUTPUT_MAX)
		return err_set(err, EINVAL, "cni result: %zu bytes (at most "
		    "%u)", len, CNI_OUTPUT_MAX);
	root = json_loadb(json, len, 0, &jerr);
	if (root == NULL)
		return err_set(err, EINVAL, "cni result: bad JSON at line %d "
		    "column %d: %s", jerr.line, jerr.column, jerr.text);
	ret = cni_result_from_json(root, out, err);
	json_decref(root);
	return ret;
}

/* For the runner: validate a decoded result (cni_int.h). */
int
cni_result_check(const json_t *root, struct cni_result **out,
    struct err *err)
{
	return cni_result_from_json(root, out, err);
}

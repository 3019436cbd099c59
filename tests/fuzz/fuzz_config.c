/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the shim's configuration parser, core_config_parse()
 * (core/config.c). The input is the text of a config file, parsed over a
 * config holding the embedded defaults. Whatever the bytes, nothing may
 * crash, leak or trip a sanitizer, and success or failure, every field
 * must still hold a value the shim can use: parsing checks a field before
 * it stores it, so a file rejected half-way leaves only valid values.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "tests/fuzz/fz_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


static bool	fz_ready;

static void
fz_setup(void)
{
	if (fz_ready)
		return;
	fz_ready = true;
	log_init("fuzz", LOG_LVL_ERROR, -1);
}

/* The defaults core_config_load() starts from (config_defaults is static). */
static void
fz_defaults(struct core_config *c)
{
	memset(c, 0, sizeof *c);
	c->qemu = xstrdup("qemu-system-x86_64");
	c->image_dir = xstrdup("/usr/local/share/kiln");
	c->kernel = xstrdup("/usr/local/share/kiln/vmlinux");
	c->initrd = xstrdup("/usr/local/share/kiln/initrd.img");
	c->accel = xstrdup("auto");
	c->transport = xstrdup("auto");
	c->vcpus = 1;
	c->mem_mib = 256;
	c->boot_timeout_ms = 60000;
	c->stop_timeout_ms = 5000;
}

static bool
fz_nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static bool
fz_one_of(const char *s, const char *a, const char *b, const char *c)
{
	return s != NULL && (strcmp(s, a) == 0 || strcmp(s, b) == 0 ||
	    strcmp(s, c) == 0);
}

/* Every field usable, whether the parse succeeded or not. */
static void
fz_check(const struct core_config *c)
{
	FZ_ASSERT(fz_nonempty(c->qemu));
	FZ_ASSERT(fz_nonempty(c->kernel));
	FZ_ASSERT(fz_nonempty(c->initrd));
	FZ_ASSERT(fz_nonempty(c->image_dir));
	FZ_ASSERT(fz_one_of(c->accel, "auto", "kvm", "tcg"));
	FZ_ASSERT(fz_one_of(c->transport, "auto", "serial", "vsock"));
	FZ_ASSERT(c->vcpus >= 1 && c->vcpus <= 64);
	FZ_ASSERT(c->mem_mib >= 64 && c->mem_mib <= 65536);
	FZ_ASSERT(c->boot_timeout_ms >= 1000 && c->boot_timeout_ms <= 600000);
	FZ_ASSERT(c->stop_timeout_ms >= 100 && c->stop_timeout_ms <= 600000);
	FZ_ASSERT(c->trace_file == NULL || fz_nonempty(c->trace_file));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_config c;
	struct err err;
	int ret;

	fz_setup();
	fz_defaults(&c);
	memset(&err, 0, sizeof err);
	ret = core_config_parse(&c, (const char *)data, size, "fuzz.json",
	    &err);
	FZ_ASSERT(ret == 0 || ret == -1);
	if (ret < 0) {
		/* Every message names the file it is about. */
		FZ_ASSERT(strncmp(err.msg, "fuzz.json: ", 11) == 0);
		FZ_ASSERT(err.code != 0);
	}
	fz_check(&c);
	core_config_fini(&c);
	return 0;
}

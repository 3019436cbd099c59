/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot templates (issue 15; qemu-guest-notes.md, "Snapshot start"):
 * a VM booted once to the agent's greeting, its RAM in a file and its
 * device state in another, from which later VMs of the same key start in
 * a fraction of a cold boot, mapping the RAM privately so that pages the
 * guest only reads stay shared between them.
 *
 *   template_dir/<hash>/        ram, state, key, ok   (ready)
 *   template_dir/<hash>.lock    flock'ed by the one shim building it
 *   template_dir/<hash>.build-<pid>/                  (being built)
 *
 * The hash covers the key: every file and option the saved state depends
 * on, so a change of any of them names another directory. A directory is
 * ready once `ok` exists; it is made complete in the build directory and
 * renamed into place, so a reader never sees half a template. A shim that
 * finds no ready template and cannot take the lock at once cold-boots:
 * nobody waits for another shim's build. The machine is tmpl_fsm.c; this
 * file does its actions. Everything here is a few syscalls on local
 * files, never a wait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_int.h"

static const char *const tmpl_files[] = { "ok", "key", "state", "ram", NULL };

static void
tmpl_timer_cb(void *arg)
{
	struct core_tmpl *t = arg;
	struct err err;

	(void)fsm_dispatch(&t->fsm, TMPL_EV_TIMEOUT, NULL, &err);
}

/* FNV-1a: names a directory, not a security boundary (the key is kept). */
static uint64_t
tmpl_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* mkdir -p, for the configured template_dir. */
static void
tmpl_mkdirs(const char *path)
{
	char buf[4096], *p;

	snprintf(buf, sizeof buf, "%s", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0700);
}

/* dir holds a complete template of exactly this key. */
static bool
tmpl_complete(const struct core_tmpl *t, const char *dir)
{
	_cleanup_free_ char *ok = xasprintf("%s/ok", dir);
	_cleanup_free_ char *kp = xasprintf("%s/key", dir);
	char buf[4096];
	size_t n;
	FILE *f;

	if (access(ok, F_OK) < 0 || (f = fopen(kp, "re")) == NULL)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strcmp(buf, t->key) == 0;
}

static void
tmpl_remove_dir(const char *dir)
{
	int i;

	for (i = 0; tmpl_files[i] != NULL; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, tmpl_files[i]);

		unlink(p);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("template: rmdir %s", dir);
}

static void
tmpl_unlock(struct core_tmpl *t)
{
	if (t->lock_fd >= 0)
		close(t->lock_fd);	/* releases the flock */
	t->lock_fd = -1;
}

/* Ready on disk, or the right to build it; else why not, for the log. */
static void
tmpl_probe(struct core_tmpl *t)
{
	tmpl_mkdirs(t->cfg->template_dir);
	if ((t->found = tmpl_complete(t, t->dir)))
		return;
	t->lock_fd = open(t->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->lock_fd < 0) {
		snprintf(t->why, sizeof t->why, "open %s: %s", t->lock_path,
		    strerror(errno));
		return;
	}
	if (flock(t->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(t->why, sizeof t->why, "another shim is building it");
		tmpl_unlock(t);
		return;
	}
	/* Finished while we took the lock: use it, build nothing. */
	if ((t->found = tmpl_complete(t, t->dir)))
		tmpl_unlock(t);
	else
		t->locked = true;
}

struct core_tmpl *
core_tmpl_new(struct reactor *r, struct fsm_env *env,
    const struct core_config *cfg, const char *id, const char *key)
{
	struct core_tmpl *t = xcalloc(1, sizeof *t);
	uint64_t h = tmpl_hash(key);

	t->cfg = cfg;
	t->key = xstrdup(key);
	t->lock_fd = -1;
	t->dir = xasprintf("%s/%016llx", cfg->template_dir,
	    (unsigned long long)h);
	t->build_dir = xasprintf("%s.build-%d", t->dir, (int)getpid());
	t->lock_path = xasprintf("%s.lock", t->dir);
	t->timer = reactor_timer_new(r, tmpl_timer_cb, t);
	fsm_init(&t->fsm, &tmpl_fsm_def, env, id, t);
	tmpl_probe(t);
	fsm_post(&t->fsm, TMPL_EV_LOOKUP, NULL, 0);
	return t;
}

void
core_tmpl_free(struct core_tmpl *t)
{
	if (t == NULL)
		return;
	/* A build cut short (the VM went first) leaves nothing behind. */
	if (t->fsm.state == TMPL_ST_BUILDING)
		tmpl_remove_dir(t->build_dir);
	tmpl_unlock(t);
	reactor_timer_free(t->timer);
	fsm_fini(&t->fsm);
	free(t->key);
	free(t->dir);
	free(t->build_dir);
	free(t->lock_path);
	free(t);
}

char *
core_tmpl_path(const struct core_tmpl *t, const char *name)
{
	return xasprintf("%s/%s", t->fsm.state == TMPL_ST_BUILDING ?
	    t->build_dir : t->dir, name);
}

/* The build directory with an empty state file; QEMU makes the RAM file. */
int
tmpl_do_build(struct core_tmpl *t, struct err *err)
{
	_cleanup_free_ char *state = xasprintf("%s/state", t->build_dir);
	_cleanup_free_ char *ram = xasprintf("%s/ram", t->build_dir);
	int fd;

	tmpl_remove_dir(t->build_dir);	/* a crashed build of our pid */
	if (mkdir(t->build_dir, 0700) < 0)
		return err_set(err, errno, "template: mkdir %s: %m",
		    t->build_dir);
	/* The jail binds these: they must exist before QEMU does. */
	if ((fd = open(state, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return err_set(err, errno, "template: %s: %m", state);
	close(fd);
	if ((fd = open(ram, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return err_set(err, errno, "template: %s: %m", ram);
	close(fd);
	/* Past a cold boot and a save: the VM's own timeouts come first. */
	reactor_timer_start(t->timer, 2 * t->cfg->boot_timeout_ms, false);
	log_info("vm=%s template=%s building", t->fsm.id, t->dir);
	return 0;
}

static int
tmpl_write(const char *dir, const char *name, const char *text,
    struct err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0)
		return err_set(err, errno, "template: write %s: %m", p);
	return 0;
}

/*
 * Key line a, ignoring the file identity after the path (the QEMU binary,
 * kernel and initrd lines are "what=path:size:mtime:inode").
 */
static bool
tmpl_line_same_files(const char *a, const char *b, size_t alen, size_t blen)
{
	const char *ea = memchr(a, ':', alen), *eb = memchr(b, ':', blen);

	if (ea != NULL && eb != NULL && memchr(a, '=', alen) != NULL)
		return ea - a == eb - b && memcmp(a, b, (size_t)(ea - a)) == 0;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * Another key is superseded by ours when it differs only in the identity
 * of the same files: the same QEMU, kernel and initrd paths rebuilt or
 * upgraded, the same options. Nothing else would ever use it again.
 */
static bool
tmpl_superseded(const char *ours, const char *other)
{
	const char *a = ours, *b = other, *na, *nb;

	if (strcmp(ours, other) == 0)
		return false;
	while (*a != '\0' && *b != '\0') {
		na = strchr(a, '\n');
		nb = strchr(b, '\n');
		if (na == NULL || nb == NULL)
			return false;
		if (!tmpl_line_same_files(a, b, (size_t)(na - a),
		    (size_t)(nb - b)))
			return false;
		a = na + 1;
		b = nb + 1;
	}
	return *a == '\0' && *b == '\0';
}

/* Read dir/key into buf (NUL-terminated); false if there is none. */
static bool
tmpl_read_key(const char *dir, char *buf, size_t len)
{
	_cleanup_free_ char *kp = xasprintf("%s/key", dir);
	FILE *f = fopen(kp, "re");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return true;
}

/*
 * Templates of superseded keys go (each is ~100 MiB of RAM file): a new
 * guest image or QEMU would otherwise leave one behind per rebuild. VMs
 * running from one keep their private mappings of the unlinked file.
 */
static void
tmpl_prune(const struct core_tmpl *t)
{
	const char *base = strrchr(t->dir, '/') + 1;
	char key[4096];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(t->cfg->template_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *p = NULL, *gone = NULL;

		if (strlen(de->d_name) != 16 || strcmp(de->d_name, base) == 0)
			continue;
		p = xasprintf("%s/%s", t->cfg->template_dir, de->d_name);
		if (!tmpl_read_key(p, key, sizeof key) ||
		    !tmpl_superseded(t->key, key))
			continue;
		gone = xasprintf("%s.stale-%d", p, (int)getpid());
		if (rename(p, gone) == 0)
			tmpl_remove_dir(gone);
		log_info("vm=%s template=%s superseded: removed", t->fsm.id, p);
	}
	closedir(d);
}

/* The saved files become the template: key, ok, then one rename. */
int
tmpl_do_commit(struct core_tmpl *t, struct err *err)
{
	reactor_timer_stop(t->timer);
	if (tmpl_write(t->build_dir, "key", t->key, err) < 0 ||
	    tmpl_write(t->build_dir, "ok", "", err) < 0)
		return -1;
	/* A leftover without `ok` (or of another key): we hold the lock. */
	tmpl_remove_dir(t->dir);
	if (rename(t->build_dir, t->dir) < 0)
		return err_set(err, errno, "template: rename %s: %m",
		    t->build_dir);
	tmpl_unlock(t);
	tmpl_prune(t);
	log_info("vm=%s template=%s ready", t->fsm.id, t->dir);
	return 0;
}

void
tmpl_do_discard(struct core_tmpl *t)
{
	reactor_timer_stop(t->timer);
	if (t->locked)
		tmpl_remove_dir(t->build_dir);
	tmpl_unlock(t);
	log_warnx("vm=%s template=%s not built", t->fsm.id, t->dir);
}

/*
 * It failed to restore: out of the way (renamed first, so no new VM picks
 * it up), then removed. VMs already restored from it keep their private
 * mappings of the unlinked RAM file. The next start builds a new one.
 */
void
tmpl_do_stale(struct core_tmpl *t)
{
	_cleanup_free_ char *gone = xasprintf("%s.stale-%d", t->dir,
	    (int)getpid());

	if (rename(t->dir, gone) == 0)
		tmpl_remove_dir(gone);
	else if (errno != ENOENT)
		log_warn("vm=%s template: rename %s", t->fsm.id, t->dir);
	log_warnx("vm=%s template=%s failed to restore: removed, cold boot",
	    t->fsm.id, t->dir);
}

void
tmpl_do_cold(struct core_tmpl *t)
{
	log_info("vm=%s template=%s none: %s: cold boot", t->fsm.id, t->dir,
	    t->why[0] != '\0' ? t->why : "not ready");
	fsm_detail(&t->fsm, "why=%s", t->why);
}

void
tmpl_do_use(struct core_tmpl *t)
{
	log_info("vm=%s template=%s restoring", t->fsm.id, t->dir);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-pause: the sandbox ("pause") process of the CRI tests' pod image
 * (localhost/kiln/pause, built by tests/e2e/lib/mkpause-oci.sh). It does
 * what the Kubernetes pause container does: hold the pod's namespaces by
 * sleeping in pause(), reap any child that is reparented to it (it is PID
 * 1 of the pod's PID namespace when containers share it), and exit 0 on
 * SIGTERM or SIGINT so a StopPodSandbox ends it cleanly.
 *
 * Linked with -static: the image holds nothing but this binary.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t pause_stop;

/* SIGTERM, SIGINT: leave the loop. */
static void
pause_stop_cb(int sig)
{
	(void)sig;
	pause_stop = 1;
}

/* SIGCHLD: reap every exited child; never block. */
static void
pause_reap_cb(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

int
main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = pause_stop_cb;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return 1;
	sa.sa_handler = pause_reap_cb;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) == -1)
		return 1;
	/* A signal between the test and pause() is caught by the next one. */
	while (pause_stop == 0)
		pause();
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* kiln-agent's entry point; everything else is in agent.c and friends. */
#include "guest/agent.h"

static struct agent agent_global;

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return agent_main(&agent_global);
}

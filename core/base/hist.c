/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fixed latency histogram: log2 buckets of microseconds, counted in
 * place, never allocated. The shim keeps one per kind of call (agent,
 * QMP) and prints it as a Prometheus histogram; nothing here knows the
 * text format, so the guest agent or a tool can use it too.
 */
#include "base.h"

void
hist_add(struct hist *h, uint64_t ns)
{
	unsigned i;

	/* Bucket i holds what is below hist_bound_us(i) and above i-1's. */
	for (i = 0; i < HIST_BUCKETS; i++)
		if (ns < hist_bound_us(i) * 1000)
			break;
	if (i < HIST_BUCKETS)
		h->buckets[i]++;
	h->count++;
	h->sum_ns += ns;
}

uint64_t
hist_bound_us(unsigned i)
{
	return 1ull << (i + HIST_FIRST_LOG2);
}

/* dns_lookup.c — the part of dns_lookup.h that is not a resolver: releasing
 * an answer. Whoever fills a struct dns_answer (the wire parser, a test's
 * table) allocates every string with the alloc.h wrappers, so one free
 * function serves them all.
 */
#include "dns/dns_lookup.h"

#include <stdlib.h>
#include <string.h>

static void soa_release(struct dns_soa *s)
{
	free(s->mname);
	free(s->rname);
}

void dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->rr[i].name);
		free(a->rr[i].target);
		free(a->rr[i].text);
		soa_release(&a->rr[i].soa);
	}
	free(a->rr);
	soa_release(&a->neg_soa);
	free(a->server);
	memset(a, 0, sizeof *a);
}

/* dns_lookup.c — the part of dns_lookup.h that is not a resolver: releasing
 * an answer. Whoever fills a struct dns_answer (the wire parser, a test's
 * table) allocates every string with the alloc.h wrappers, so one free
 * function serves them all.
 */
#include "dns/dns_lookup.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

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

char *dns_name_normalize(const char *d)
{
	size_t n, label = 0;
	char *o;

	if (d == NULL)
		return NULL;
	n = strlen(d);
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return NULL;
	o = xstrndup(d, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)o[i];
		if (c == '.') {
			if (label == 0)
				goto bad;
			label = 0;
			continue;
		}
		if ((!isalnum(c) && c != '-' && c != '_') || ++label > 63)
			goto bad;
		o[i] = (char)tolower(c);
	}
	if (label == 0)
		goto bad;
	return o;
bad:
	free(o);
	return NULL;
}

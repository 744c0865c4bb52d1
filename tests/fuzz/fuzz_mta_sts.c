/* fuzz_mta_sts.c — libFuzzer target for the MTA-STS policy parser, which
 * reads whatever an HTTPS server sends (dns/mta_sts.h).
 *
 * The whole input (NUL bytes included) is the policy text. Checks:
 *  - on success: version/mode/max_age within the RFC's bounds, the mode
 *    enforce/testing has at least one mx, every mx is NUL-free, non-empty
 *    and matches itself when it is not a wildcard (a "*." pattern matches
 *    "x." and the rest);
 *  - on failure: an empty policy and a non-empty, printable ASCII message
 *    (network data must not reach a terminal raw);
 *  - parsing is deterministic: a second parse gives the same result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "dns/mta_sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mta_sts_policy p, q;
	struct err err, err2;
	bool ok, ok2;

	err_clear(&err);
	err_clear(&err2);
	ok = mta_sts_parse((const char *)data, size, &p, &err);
	ok2 = mta_sts_parse((const char *)data, size, &q, &err2);
	CHECK(ok == ok2);
	if (!ok) {
		CHECK(p.mx == NULL && p.n_mx == 0);
		CHECK(err.msg[0] != '\0');
		CHECK(strcmp(err.msg, err2.msg) == 0);
		for (const char *c = err.msg; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
		return 0;
	}
	CHECK(p.max_age <= MTA_STS_MAX_AGE_MAX);
	CHECK(p.mode == MTA_STS_ENFORCE || p.mode == MTA_STS_TESTING || p.mode == MTA_STS_NONE);
	CHECK(p.mode == MTA_STS_NONE || p.n_mx > 0);
	CHECK(p.n_mx == q.n_mx && p.mode == q.mode && p.max_age == q.max_age);
	for (size_t i = 0; i < p.n_mx; i++) {
		const char *m = p.mx[i];

		CHECK(m[0] != '\0');
		CHECK(strcmp(m, q.mx[i]) == 0);
		if (m[0] == '*') {
			char *h = xasprintf("x.%s", m + 2);

			CHECK(m[1] == '.');
			CHECK(mta_sts_mx_match(m, h));
			CHECK(!mta_sts_mx_match(m, m + 2));
			free(h);
		} else {
			CHECK(mta_sts_mx_match(m, m));
			CHECK(mta_sts_covers(&p, m) != NULL);
		}
	}
	mta_sts_policy_free(&p);
	mta_sts_policy_free(&q);
	return 0;
}

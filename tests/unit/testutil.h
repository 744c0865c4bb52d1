/* testutil.h — helpers the cmocka suites share: a private temporary folder
 * per test and a substring assertion. Header-only (static inline), included
 * after <cmocka.h>. */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mkdtemp() from a template like "/tmp/ms-store-XXXXXX" into dir (cap
 * bytes); 0 on success, -1 otherwise (a cmocka setup's return value). */
static inline int testutil_mkdtemp(char *dir, size_t cap, const char *template)
{
	if (snprintf(dir, cap, "%s", template) >= (int)cap)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int testutil_rm_entry(const char *p, const struct stat *st, int flag,
				    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Remove dir and everything below it. */
static inline void testutil_rmtree(const char *dir)
{
	nftw(dir, testutil_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL) {
		print_message("'%s'\n  does not contain '%s'\n", hay ? hay : "(null)", needle);
		fail();
	}
}

#endif

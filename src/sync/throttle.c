/* throttle.c — see throttle.h. */
#include "throttle.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define THROTTLE_MAX_MS (10u * 60u * 1000u)

unsigned throttle_hint_ms(const char *text)
{
	const char *p;

	if (text == NULL)
		return 0;
	p = strcasestr(text, "Suggested Backoff Time:");
	if (p != NULL) {
		p += strlen("Suggested Backoff Time:");
		while (*p == ' ')
			p++;
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end != p) {
			while (*end == ' ')
				end++;
			if (strncasecmp(end, "second", 6) == 0)
				v *= 1000;
			if (v == 0)
				v = 1000;
			return v > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : (unsigned)v;
		}
		return 30000;
	}
	if (strcasestr(text, "bandwidth limits") != NULL ||
	    strcasestr(text, "Too many simultaneous connections") != NULL)
		return 60000;   /* Gmail: minutes, not seconds, help */
	if (strcasestr(text, "throttl") != NULL || strcasestr(text, "[THROTTLED]") != NULL ||
	    strcasestr(text, "[UNAVAILABLE]") != NULL)
		return 30000;
	return 0;
}

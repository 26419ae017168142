/* SPDX-License-Identifier: Apache-2.0 */
/* UTC "YYYY-MM-DDThh:mm:ssZ" timestamps for the GBA codecs (see datetime.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gba/datetime.h"

int gba_time_format(int64_t epoch, char out[static GBA_TIME_TEXT_LEN + 1])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1970)
		return -ERANGE;
	if (strftime(out, GBA_TIME_TEXT_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != GBA_TIME_TEXT_LEN)
		return -ERANGE;
	return 0;
}

/* n decimal digits at s into *ret. */
static bool digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int gba_time_parse(const char *text, int64_t *ret)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;
	const char *p;
	time_t t;

	if (strlen(text) < GBA_TIME_TEXT_LEN || !digits(text, 4, &y) || text[4] != '-' ||
	    !digits(text + 5, 2, &mo) || text[7] != '-' || !digits(text + 8, 2, &d) ||
	    text[10] != 'T' || !digits(text + 11, 2, &h) || text[13] != ':' ||
	    !digits(text + 14, 2, &mi) || text[16] != ':' || !digits(text + 17, 2, &se))
		return -EINVAL;
	p = text + 19;
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");

		if (n == 0 || n > 9)
			return -EINVAL;
		p += 1 + n;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 59)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = (int64_t)t;
	return 0;
}

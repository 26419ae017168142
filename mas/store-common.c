/* SPDX-License-Identifier: Apache-2.0 */
/* Store checks that do not depend on the backend (mas/store.h): the IMPI of method gba. */
#include <stdbool.h>
#include <string.h>

#include "mas/store.h"

bool store_impi_valid(const char *impi)
{
	size_t n = impi ? strnlen(impi, STORE_IMPI_MAX + 1) : STORE_IMPI_MAX + 1;

	if (n > STORE_IMPI_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@+!~%",
			    impi[i]))
			return false;
	return true;
}

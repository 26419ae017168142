/* SPDX-License-Identifier: Apache-2.0 */
/* common/fileio: atomic and exclusive writes, size-limited reads, in a temp folder. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";
static char path[sizeof(dir) + 32];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
}

static void teardown(void)
{
	char cmd[sizeof(dir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(fileio, .init = setup, .fini = teardown);

/* The names in dir, one count. */
static size_t entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void assert_content(const char *want)
{
	uint8_t buf[64];
	size_t len = 0;

	cr_assert_eq(fileio_read(path, buf, sizeof(buf), &len), 0);
	cr_assert_eq(len, strlen(want));
	cr_assert_arr_eq(buf, want, len);
}

Test(fileio, atomic_write_replaces_and_sets_mode)
{
	struct stat st;

	cr_assert_eq(fileio_write_atomic(path, "old\n", 4, 0644), 0);
	cr_assert_eq(fileio_write_atomic(path, "new content\n", 12, 0600), 0);
	assert_content("new content\n");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(entries(), 1, "no temporary file left beside it");
}

Test(fileio, atomic_write_error_leaves_no_temp_file_and_old_content)
{
	char sub[sizeof(path) + 8];

	cr_assert_eq(fileio_write_atomic(path, "old\n", 4, 0644), 0);
	/* rename fails: a non-empty folder is in the way at the target name. */
	snprintf(sub, sizeof(sub), "%s/busy", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/busy/x", dir);
	cr_assert_eq(fileio_write_atomic(sub, "x", 1, 0644), 0);
	snprintf(sub, sizeof(sub), "%s/busy", dir);
	cr_assert_lt(fileio_write_atomic(sub, "new\n", 4, 0644), 0);
	cr_assert_eq(entries(), 2, "only file and busy/: no temporary file");
	assert_content("old\n");
	/* The folder does not exist: nothing created anywhere. */
	cr_assert_eq(fileio_write_atomic("/nonexistent-dir/file", "x", 1, 0644), -ENOENT);
}

Test(fileio, exclusive_write_refuses_existing_file_and_symlink)
{
	char link[sizeof(path) + 8];

	cr_assert_eq(fileio_write_exclusive(path, "first", 5, 0600), 0);
	cr_assert_eq(fileio_write_exclusive(path, "second", 6, 0600), -EEXIST);
	assert_content("first");
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink("dangling-target", link), 0);
	cr_assert_eq(fileio_write_exclusive(link, "x", 1, 0600), -EEXIST);
	cr_assert_eq(entries(), 2, "nothing created through the link");
}

Test(fileio, read_refuses_too_large_file_and_wipes_buffer)
{
	uint8_t buf[8];
	size_t len = 99;

	cr_assert_eq(fileio_write_atomic(path, "12345678", 8, 0600), 0);
	cr_assert_eq(fileio_read(path, buf, sizeof(buf), &len), 0, "exactly the size fits");
	cr_assert_eq(len, 8);
	cr_assert_eq(fileio_write_atomic(path, "123456789", 9, 0600), 0);
	len = 99;
	cr_assert_eq(fileio_read(path, buf, sizeof(buf), &len), -EFBIG);
	cr_assert_eq(len, 99, "length untouched on error");
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0, "buffer wiped at %zu", i);
}

Test(fileio, read_alloc_and_missing_file)
{
	uint8_t *p = NULL;
	size_t len = 0;

	cr_assert_eq(fileio_read_alloc(path, 16, &p, &len), -ENOENT);
	cr_assert_null(p);
	cr_assert_eq(fileio_write_atomic(path, "abc", 3, 0600), 0);
	cr_assert_eq(fileio_read_alloc(path, 16, &p, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_arr_eq(p, "abc", 3);
	free(p);
	cr_assert_eq(fileio_read_alloc(path, 2, &p, &len), -EFBIG);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Table-driven INI configuration (libinih): one file plus a drop-in folder of
 * *.conf files read in lexical order, later values overriding earlier ones.
 * Unknown sections or keys and malformed values are errors; the message names
 * the file, the line and the key, e.g.
 *   "/etc/m2msa/m2msad.conf:7: unknown key 'prot' in section [mas]"
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_ERR_MAX 512

/*
 * Parse value into dst. On error return -errno and write a short reason
 * ("expected a number from 1 to 65535") into err.
 */
typedef int (*conf_parse_fn)(const char *value, void *dst, char *err, size_t err_len);

struct conf_item {
	const char *section;
	const char *key;
	conf_parse_fn parse;
	size_t offset; /* of the destination field in the caller's struct */
};

/* Destination: char * (freed and replaced; free with free()). Empty values are refused. */
int conf_parse_string(const char *value, void *dst, char *err, size_t err_len);
/* Destination: char *; an absolute path. */
int conf_parse_path(const char *value, void *dst, char *err, size_t err_len);
/* Destination: bool; yes/no, true/false, on/off, 1/0. */
int conf_parse_bool(const char *value, void *dst, char *err, size_t err_len);
/* Destination: uint16_t; 1..65535. */
int conf_parse_port(const char *value, void *dst, char *err, size_t err_len);
/* Destination: uint32_t; decimal. */
int conf_parse_uint32(const char *value, void *dst, char *err, size_t err_len);
/* Destination: uint64_t seconds; "90", "90s", "15m", "2h", "1d". */
int conf_parse_duration(const char *value, void *dst, char *err, size_t err_len);

/*
 * Parse one file into obj. Errors: -ENOENT (missing), -EACCES (unreadable),
 * -EINVAL (syntax, unknown key, bad value), with the message in err.
 */
int conf_parse_file(const char *path, const struct conf_item *table, size_t n_items, void *obj,
		    char *err, size_t err_len);

/*
 * Parse path, then every *.conf in dropin_dir (if it exists; NULL for none) in
 * lexical order. The main file must exist.
 */
int conf_load(const char *path, const char *dropin_dir, const struct conf_item *table,
	      size_t n_items, void *obj, char *err, size_t err_len);

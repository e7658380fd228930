/*
 * `c-probe`: a drhost runbook plugin in C, with no SDK — only the bindings
 * `wit-bindgen c` generates from wit/0.2.0 (plugin.h). examples/python-probe
 * ported: GETs each health URL it is given, one progress step per URL, and
 * reports each status as a fact; fails, naming the URLs, when any is
 * unhealthy or unreachable.
 *
 * A capability call returns false and fills a `drhost_runbook_types_error_t`
 * (the WIT `error` variant: a tag and the host's text); the probe switches
 * on the tag. A denied URL is the operator's grant, not the service's health:
 * it ends the run at once, the way the Rust SDK's `?` does (summary
 * "access-denied: <the grant to add>", the same hint).
 *
 * Ownership, as wit-bindgen c defines it: strings passed to an import are
 * borrowed (plugin_string_set); what an import returns is ours to free
 * (*_free); what `describe` and `run` return is freed by the bindings after
 * the host has read it, so every string in it is malloc'd (plugin_string_dup);
 * `run`'s parameters are ours to free. Build with sdk/c/build.sh.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

typedef drhost_runbook_types_error_t capability_error;
typedef drhost_runbook_types_fact_t fact;

/* The Rust SDK's hint for an access-denied error that ends a run. */
#define DENIED_HINT "add the grant the message names to drhost.toml, then run again"

/* A string borrowed for one import call. */
static plugin_string_t borrowed(const char *s) {
	plugin_string_t out;
	plugin_string_set(&out, s);
	return out;
}

/* A malloc'd copy, for what the plugin returns. */
static plugin_string_t owned(const char *s) {
	plugin_string_t out;
	plugin_string_dup(&out, s);
	return out;
}

/* A NUL-terminated, malloc'd copy of a WIT string. */
static char *c_string(const plugin_string_t *s) {
	char *out = malloc(s->len + 1);
	memcpy(out, s->ptr, s->len);
	out[s->len] = '\0';
	return out;
}

/* printf into a malloc'd string. */
static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...) {
	va_list args;
	va_start(args, fmt);
	int len = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	char *out = malloc((size_t)len + 1);
	va_start(args, fmt);
	vsnprintf(out, (size_t)len + 1, fmt, args);
	va_end(args);
	return out;
}

/* One log line, shown to the operator and journaled. */
static void log_line(drhost_runbook_log_level_t level, const char *message) {
	plugin_string_t text = borrowed(message);
	drhost_runbook_log_write(level, &text);
}

/* The WIT name of an error's case, as the host journals it. */
static const char *error_kind(const capability_error *e) {
	switch (e->tag) {
	case DRHOST_RUNBOOK_TYPES_ERROR_ACCESS_DENIED: return "access-denied";
	case DRHOST_RUNBOOK_TYPES_ERROR_NOT_FOUND: return "not-found";
	case DRHOST_RUNBOOK_TYPES_ERROR_INVALID_ARGUMENT: return "invalid-argument";
	case DRHOST_RUNBOOK_TYPES_ERROR_UNAVAILABLE: return "unavailable";
	case DRHOST_RUNBOOK_TYPES_ERROR_TIMEOUT: return "timeout";
	case DRHOST_RUNBOOK_TYPES_ERROR_CONFLICT: return "conflict";
	case DRHOST_RUNBOOK_TYPES_ERROR_FAILED: return "failed";
	case DRHOST_RUNBOOK_TYPES_ERROR_PLANNED: return "planned";
	default: return "unknown";
	}
}

/* What the operator should do about the first failure: by the error's tag,
 * or `has_error` false when the URL answered with the wrong status. */
static const char *hint_for(bool has_error, uint8_t tag) {
	if (!has_error) {
		return "check the service's logs, or pass --param expect=STATUS";
	}
	switch (tag) {
	case DRHOST_RUNBOOK_TYPES_ERROR_UNAVAILABLE:
	case DRHOST_RUNBOOK_TYPES_ERROR_TIMEOUT:
		return "the service does not answer: is it running, and on that port?";
	default:
		return "see the error in the step's log";
	}
}

/* The facts reported so far: a WIT list that grows. */
typedef struct {
	drhost_runbook_types_list_fact_t list;
	size_t capacity;
} facts;

static void add_fact(facts *f, const char *name, const char *value) {
	if (f->list.len == f->capacity) {
		f->capacity = f->capacity ? 2 * f->capacity : 4;
		f->list.ptr = realloc(f->list.ptr, f->capacity * sizeof(fact));
	}
	f->list.ptr[f->list.len++] = (fact){.name = owned(name), .value = owned(value)};
}

/* A `--param` by name (defaults are already applied by the host), or NULL. */
static char *param(const plugin_list_param_t *params, const char *name) {
	for (size_t i = 0; i < params->len; i++) {
		const plugin_param_t *p = &params->ptr[i];
		if (p->name.len == strlen(name) && memcmp(p->name.ptr, name, p->name.len) == 0) {
			return c_string(&p->value);
		}
	}
	return NULL;
}

/* A failure to return from `run`; `step` and `hint` may be NULL. The facts
 * move into it. */
static bool fail(plugin_failure_t *err, const char *summary, const char *step, const char *hint, facts *f) {
	*err = (plugin_failure_t){.summary = owned(summary)};
	if (step) {
		err->step = (plugin_option_string_t){.is_some = true, .val = owned(step)};
	}
	if (hint) {
		err->hint = (plugin_option_string_t){.is_some = true, .val = owned(hint)};
	}
	if (f) {
		err->facts = f->list;
		*f = (facts){0};
	}
	return false;
}

static void need(drhost_runbook_types_need_t *n, const char *capability, const char *target,
                 drhost_runbook_types_access_t access, const char *why) {
	*n = (drhost_runbook_types_need_t){
		.capability = owned(capability), .target = owned(target), .access = access, .why = owned(why)};
}

static void param_spec(drhost_runbook_types_param_spec_t *p, const char *name, const char *description,
                       const char *default_value) {
	*p = (drhost_runbook_types_param_spec_t){.name = owned(name), .description = owned(description)};
	if (default_value) {
		p->default_ = (plugin_option_string_t){.is_some = true, .val = owned(default_value)};
	}
}

void exports_plugin_describe(plugin_manifest_t *ret) {
	*ret = (plugin_manifest_t){
		.id = owned("c-probe"),
		.version = owned("0.1.0"),
		.description = owned("Probes health URLs over HTTP (an example plugin in C)"),
	};
	ret->params.len = 3;
	ret->params.ptr = calloc(3, sizeof(drhost_runbook_types_param_spec_t));
	param_spec(&ret->params.ptr[0], "urls", "comma-separated health URLs on 127.0.0.1", NULL);
	param_spec(&ret->params.ptr[1], "expect", "the HTTP status a healthy URL answers", "200");
	param_spec(&ret->params.ptr[2], "calls",
		   "first time this many no-I/O host calls (run-info.time-left-ms): the fact ns-per-call", "0");
	ret->needs.len = 1;
	ret->needs.ptr = calloc(1, sizeof(drhost_runbook_types_need_t));
	need(&ret->needs.ptr[0], "http", "127.0.0.1:*", DRHOST_RUNBOOK_TYPES_ACCESS_READ, "probes the health URLs");
}

/* One URL in its own step: its fact, and whether it is healthy. `denied` is
 * set (a malloc'd summary) when the grants refuse it. */
typedef struct {
	bool ok;
	bool has_error;
	uint8_t error_tag;
	char *denied;
} probe_result;

static probe_result probe(const char *url, unsigned expect, facts *f) {
	probe_result r = {0};
	char *step_name = format("probe %s", url);
	plugin_string_t step_name_text = borrowed(step_name);
	drhost_runbook_progress_own_step_t step = drhost_runbook_progress_constructor_step(&step_name_text);
	drhost_runbook_progress_borrow_step_t s = drhost_runbook_progress_borrow_step(step);

	plugin_string_t url_text = borrowed(url);
	drhost_runbook_http_response_t response;
	capability_error error;
	char *seen;
	if (drhost_runbook_http_get(&url_text, NULL, &response, &error)) {
		r.ok = response.status == expect;
		seen = format("%u", response.status);
		char *line = format("%s answered %u in %llu ms", url, response.status,
		                    (unsigned long long)response.duration_ms);
		log_line(r.ok ? DRHOST_RUNBOOK_LOG_LEVEL_INFO : DRHOST_RUNBOOK_LOG_LEVEL_WARN, line);
		free(line);
		drhost_runbook_http_response_free(&response);
	} else {
		/* The typed error, as a value; the host already shows and journals its text. */
		r.has_error = true;
		r.error_tag = error.tag;
		seen = format("%s", error_kind(&error));
		char *line = format("%s: %s", url, seen);
		log_line(DRHOST_RUNBOOK_LOG_LEVEL_ERROR, line);
		free(line);
		if (error.tag == DRHOST_RUNBOOK_TYPES_ERROR_ACCESS_DENIED) {
			char *message = c_string(&error.val.access_denied);
			r.denied = format("access-denied: %s", message);
			free(message);
		}
		drhost_runbook_http_error_free(&error);
	}

	plugin_string_t note = borrowed(seen);
	drhost_runbook_progress_method_step_note(s, &note);
	add_fact(f, url, seen);
	drhost_runbook_progress_method_step_finish(s, r.ok);
	drhost_runbook_progress_step_drop_own(step);
	free(seen);
	free(step_name);
	return r;
}

/* `urls` split at commas, blanks trimmed, empty ones dropped; NULL-terminated. */
static char **split_urls(char *urls, size_t *count) {
	char **out = calloc(strlen(urls) / 2 + 2, sizeof(char *));
	*count = 0;
	for (char *part = strtok(urls, ","); part; part = strtok(NULL, ",")) {
		while (*part == ' ') part++;
		size_t len = strlen(part);
		while (len && part[len - 1] == ' ') part[--len] = '\0';
		if (len) out[(*count)++] = part;
	}
	return out;
}

/* Whether `s` is a whole number, i.e. an HTTP status's spelling. */
/* Nanoseconds per run-info.time-left-ms call, over `calls` calls timed here
 * in the guest: the guest->host call overhead `make bench` reports. */
static double ns_per_call(unsigned long calls) {
	struct timespec start, end;
	uint64_t sum = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned long i = 0; i < calls; i++) {
		sum += drhost_runbook_run_info_time_left_ms();
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	(void)sum;
	double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
	return ns / (double)calls;
}

static bool is_digits(const char *s) {
	if (!*s) return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') return false;
	}
	return true;
}

bool exports_plugin_run(plugin_list_param_t *params, plugin_outcome_t *ret, plugin_failure_t *err) {
	char *urls_param = param(params, "urls");
	char *expect_param = param(params, "expect");
	char *calls_param = param(params, "calls");
	plugin_list_param_free(params);
	bool done = true;
	facts f = {0};
	size_t count = 0;
	char **urls = split_urls(urls_param ? urls_param : (urls_param = calloc(1, 1)), &count);

	if (count == 0) {
		done = fail(err, "no URL to probe", NULL, "pass --param urls=http://127.0.0.1:PORT/health", NULL);
		goto out;
	}
	if (!expect_param || !is_digits(expect_param) || strlen(expect_param) > 3) {
		char *summary = format("expect=%s is not an HTTP status", expect_param ? expect_param : "");
		done = fail(err, summary, NULL, "pass e.g. --param expect=204", NULL);
		free(summary);
		goto out;
	}
	unsigned expect = (unsigned)atoi(expect_param);
	if (!calls_param || !is_digits(calls_param) || strlen(calls_param) > 9) {
		done = fail(err, "calls is not a count", NULL, "pass e.g. --param calls=100000", NULL);
		goto out;
	}
	unsigned long calls = strtoul(calls_param, NULL, 10);
	if (calls > 0) {
		char *per_call = format("%.1f", ns_per_call(calls));
		add_fact(&f, "ns-per-call", per_call);
		free(per_call);
	}

	/* The failing URLs, ", "-separated, and what went wrong with the first. */
	char *failing = NULL;
	const char *first_failing = NULL;
	bool first_has_error = false;
	uint8_t first_tag = 0;
	for (size_t i = 0; i < count; i++) {
		probe_result r = probe(urls[i], expect, &f);
		if (r.denied) {
			char *step = format("probe %s", urls[i]);
			done = fail(err, r.denied, step, DENIED_HINT, &f);
			free(step);
			free(r.denied);
			free(failing);
			goto out;
		}
		if (!r.ok) {
			char *more = failing ? format("%s, %s", failing, urls[i]) : format("%s", urls[i]);
			free(failing);
			failing = more;
			if (!first_failing) {
				first_failing = urls[i];
				first_has_error = r.has_error;
				first_tag = r.error_tag;
			}
		}
	}

	if (failing) {
		char *summary = format("unhealthy (expected %u): %s", expect, failing);
		char *step = format("probe %s", first_failing);
		done = fail(err, summary, step, hint_for(first_has_error, first_tag), &f);
		free(summary);
		free(step);
		free(failing);
		goto out;
	}
	char *summary = format("%zu URL(s) answered %u", count, expect);
	*ret = (plugin_outcome_t){.summary = owned(summary), .facts = f.list};
	free(summary);

out:
	free(urls);
	free(urls_param);
	free(expect_param);
	free(calls_param);
	return done;
}

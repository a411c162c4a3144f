// bench/gbench.cc: the C shim over Google Benchmark 1.7.1 declared in bench/gbench.h.
// The project's only C++: everything here converts between benchmark:: types and the plain C
// structs of the header; no benchmarking logic of its own.
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/gbench.h"

namespace {

benchmark::State *unwrap(sg_gb_state *st) { return reinterpret_cast<benchmark::State *>(st); }

int g_registered = 0;

// ---- flags -------------------------------------------------------------------------------
// Google Benchmark keeps its flags in globals that Initialize() only overwrites for the flags
// it sees, so a second sg_gb_run without --benchmark_out would still write the file named by
// the first. Every run therefore passes each flag's default first (the library's own default,
// or the BENCHMARK_<NAME> environment variable it would have read at start-up), followed by
// the caller's flags, which win because later flags override earlier ones.
// --benchmark_context (key=value pairs) is left alone: it has no value meaning "empty".
struct FlagDefault {
    const char *name;
    const char *value;
};
const FlagDefault kFlagDefaults[] = {
    {"benchmark_list_tests", "false"},
    {"benchmark_filter", ""},
    {"benchmark_min_time", "0.5"},
    {"benchmark_min_warmup_time", "0"},
    {"benchmark_repetitions", "1"},
    {"benchmark_enable_random_interleaving", "false"},
    {"benchmark_report_aggregates_only", "false"},
    {"benchmark_display_aggregates_only", "false"},
    {"benchmark_format", "console"},
    {"benchmark_out_format", "json"},
    {"benchmark_out", ""},
    {"benchmark_color", "auto"},
    {"benchmark_counters_tabular", "false"},
    {"benchmark_perf_counters", ""},
    {"benchmark_time_unit", ""},
    {"v", "0"},
};

std::string env_name(const char *flag) {
    std::string s = flag;
    for (char &c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool is_truthy(const std::string &v) {
    if (v.empty()) return true;  // a bare --flag means true
    const char *yes[] = {"1", "t", "true", "y", "yes", "on"};
    std::string l = v;
    for (char &c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char *y : yes)
        if (l == y) return true;
    return false;
}

// The value argument `arg` gives to `--name` (nullptr when it is another flag).
const char *flag_value(const char *arg, const char *name) {
    size_t n = std::strlen(name);
    if (std::strncmp(arg, "--", 2) != 0 || std::strncmp(arg + 2, name, n) != 0) return nullptr;
    const char *rest = arg + 2 + n;
    if (*rest == '=') return rest + 1;
    if (*rest == '\0') return rest;  // bare boolean flag
    return nullptr;
}

// ---- results -----------------------------------------------------------------------------
void copy_str(char *dst, size_t cap, const std::string &s) {
    size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
    std::memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

void to_result(const benchmark::BenchmarkReporter::Run &run, sg_gb_result *r) {
    using Run = benchmark::BenchmarkReporter::Run;
    std::memset(r, 0, sizeof *r);
    copy_str(r->name, sizeof r->name, run.benchmark_name());
    bool aggregate = run.run_type == Run::RT_Aggregate;
    copy_str(r->run_type, sizeof r->run_type, aggregate ? "aggregate" : "iteration");
    if (aggregate) copy_str(r->aggregate, sizeof r->aggregate, run.aggregate_name);
    r->iterations = run.iterations;
    r->repetition_index = static_cast<int>(run.repetition_index);
    const double nan = std::nan("");
    r->cv_real = r->cv_cpu = nan;
    if (run.error_occurred) {
        r->error = 1;
        copy_str(r->error_message, sizeof r->error_message, run.error_message);
        r->real_time_ns = r->cpu_time_ns = nan;
    } else if (aggregate && run.aggregate_unit == benchmark::kPercentage) {
        // Pitfall 1: the "cv" row (1.7.1 marks it aggregate_unit == kPercentage) stores the
        // coefficient of variation itself, a fraction, in the *_accumulated_time fields.
        // GetAdjusted*Time() would scale it by the time unit and divide it by the iteration
        // count, giving a meaningless "time"; the console prints it as 100 * fraction %.
        // It goes to cv_real/cv_cpu and the time fields are NaN so it is never read as ns.
        r->is_cv = 1;
        r->cv_real = run.real_accumulated_time;
        r->cv_cpu = run.cpu_accumulated_time;
        r->real_time_ns = r->cpu_time_ns = nan;
    } else {
        // Accumulated times are seconds over all iterations. On mean/median/stddev rows
        // `iterations` is the number of repetitions and the library has rescaled the
        // accumulated times to match, so the same division gives the statistic per iteration.
        double per = run.iterations > 0 ? 1e9 / static_cast<double>(run.iterations) : 1e9;
        r->real_time_ns = run.real_accumulated_time * per;
        r->cpu_time_ns = run.cpu_accumulated_time * per;
    }
    // SetBytesProcessed/SetItemsProcessed are counters named like this in 1.7.1, already
    // divided by the run's duration when the reporter sees them.
    for (const auto &kv : run.counters) {
        if (kv.first == "bytes_per_second") {
            r->bytes_per_second = kv.second.value;
        } else if (kv.first == "items_per_second") {
            r->items_per_second = kv.second.value;
        } else if (r->ncounters < SG_GB_MAX_COUNTERS) {
            copy_str(r->counter_names[r->ncounters], sizeof r->counter_names[0], kv.first);
            r->counter_values[r->ncounters] = kv.second.value;
            r->ncounters++;
        }
    }
}

// The display reporter: hands every row to the C sink and, unless quiet, prints the usual
// console table (context header included).
class SinkReporter : public benchmark::ConsoleReporter {
  public:
    SinkReporter(OutputOptions opts, sg_gb_sink sink, void *user, bool quiet)
        : ConsoleReporter(opts), sink_(sink), user_(user), quiet_(quiet) {}

    bool ReportContext(const Context &context) override {
        return quiet_ ? true : ConsoleReporter::ReportContext(context);
    }

    void ReportRuns(const std::vector<Run> &runs) override {
        if (sink_) {
            for (const Run &run : runs) {
                sg_gb_result r;
                to_result(run, &r);
                sink_(&r, user_);
            }
        }
        if (!quiet_) ConsoleReporter::ReportRuns(runs);
    }

  private:
    sg_gb_sink sink_;
    void *user_;
    bool quiet_;
};

}  // namespace

extern "C" {

int sg_gb_register(const sg_gb_spec *spec) {
    SG_CHECK(spec && spec->name && spec->name[0] && spec->fn, "benchmark spec needs a name and fn");
    SG_CHECK(spec->nargs >= 0 && spec->nargs <= SG_GB_MAX_ARGS, "%s: nargs %d not in 0..%d",
             spec->name, spec->nargs, SG_GB_MAX_ARGS);
    SG_CHECK(spec->repetitions >= 0 && spec->min_time >= 0, "%s: repetitions %d, min_time %g",
             spec->name, spec->repetitions, spec->min_time);
    sg_gb_fn fn = spec->fn;
    void *user = spec->user;
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        spec->name,
        [fn, user](benchmark::State &st) { fn(reinterpret_cast<sg_gb_state *>(&st), user); });
    if (spec->nargs > 0) b->Args(std::vector<int64_t>(spec->args, spec->args + spec->nargs));
    if (spec->manual_time) b->UseManualTime();
    if (spec->repetitions > 0) b->Repetitions(spec->repetitions);
    if (spec->min_time > 0) b->MinTime(spec->min_time);
    return g_registered++;
}

int sg_gb_keep_running(sg_gb_state *st) { return unwrap(st)->KeepRunning() ? 1 : 0; }

int64_t sg_gb_range(sg_gb_state *st, int i) {
    SG_CHECK(i >= 0 && i < SG_GB_MAX_ARGS, "range index %d", i);
    return unwrap(st)->range(static_cast<std::size_t>(i));
}

void sg_gb_set_iteration_time(sg_gb_state *st, double seconds) {
    unwrap(st)->SetIterationTime(seconds);
}

void sg_gb_set_bytes_processed(sg_gb_state *st, int64_t bytes) {
    unwrap(st)->SetBytesProcessed(bytes);
}

void sg_gb_set_items_processed(sg_gb_state *st, int64_t items) {
    unwrap(st)->SetItemsProcessed(items);
}

void sg_gb_counter(sg_gb_state *st, const char *name, double value, int is_rate) {
    unwrap(st)->counters[name] = benchmark::Counter(
        value, is_rate ? benchmark::Counter::kIsRate : benchmark::Counter::kDefaults);
}

void sg_gb_skip_with_error(sg_gb_state *st, const char *msg) { unwrap(st)->SkipWithError(msg); }

void sg_gb_pause_timing(sg_gb_state *st) { unwrap(st)->PauseTiming(); }

void sg_gb_resume_timing(sg_gb_state *st) { unwrap(st)->ResumeTiming(); }

int sg_gb_run(int argc, char **argv, sg_gb_sink sink, void *user, int quiet, sg_err *err) {
    SG_CHECK(argc >= 1 && argv && argv[0], "argv needs at least the program name");

    // The effective value of every flag: default or environment, then the caller's flags.
    std::vector<std::string> args;
    args.push_back(argv[0]);
    std::map<std::string, std::string> eff;
    for (const FlagDefault &f : kFlagDefaults) {
        const char *env = std::getenv(env_name(f.name).c_str());
        eff[f.name] = env ? env : f.value;
        args.push_back(std::string("--") + f.name + "=" + eff[f.name]);
    }
    for (int i = 1; i < argc; i++) {
        for (const FlagDefault &f : kFlagDefaults) {
            const char *v = flag_value(argv[i], f.name);
            if (v) eff[f.name] = v;
        }
        args.push_back(argv[i]);
    }

    // Values Initialize() or RunSpecifiedBenchmarks() would answer with exit(): refuse them
    // here with an error instead.
    const std::string &out_format = eff["benchmark_out_format"];
    if (out_format != "json" && out_format != "csv" && out_format != "console")
        return sg_errf(err, "--benchmark_out_format=%s: expected json, csv or console",
                       out_format.c_str());
    if (eff["benchmark_format"] != "console")
        return sg_errf(err,
                       "--benchmark_format=%s: the display is always the console table; for "
                       "JSON or CSV use --benchmark_out=FILE --benchmark_out_format=json|csv",
                       eff["benchmark_format"].c_str());
    if (eff["benchmark_color"].empty())
        return sg_errf(err, "--benchmark_color: expected auto, true or false, got nothing");
    const std::string &unit = eff["benchmark_time_unit"];
    if (!unit.empty() && unit != "ns" && unit != "us" && unit != "ms" && unit != "s")
        return sg_errf(err, "--benchmark_time_unit=%s: expected ns, us, ms or s", unit.c_str());
    const std::string &out = eff["benchmark_out"];
    if (!out.empty()) {
        FILE *f = std::fopen(out.c_str(), "w");
        if (!f)
            return sg_errf(err, "--benchmark_out=%s: cannot write the file: %s", out.c_str(),
                           std::strerror(errno));
        std::fclose(f);
    }

    std::vector<char *> cargv;
    for (std::string &a : args) cargv.push_back(&a[0]);
    cargv.push_back(nullptr);
    int cargc = static_cast<int>(args.size());
    benchmark::Initialize(&cargc, cargv.data());
    if (cargc > 1) {  // Initialize removed every flag it understood; the rest is bad input
        std::string bad;
        for (int i = 1; i < cargc; i++) bad += std::string(i > 1 ? " " : "") + cargv[i];
        return sg_errf(err, "unrecognized or malformed benchmark flag(s): %s", bad.c_str());
    }

    const std::string &color = eff["benchmark_color"];
    bool use_color = color == "auto" ? isatty(STDOUT_FILENO) != 0 : is_truthy(color);
    int opts = benchmark::ConsoleReporter::OO_None;
    if (use_color) opts |= benchmark::ConsoleReporter::OO_Color;
    if (is_truthy(eff["benchmark_counters_tabular"])) opts |= benchmark::ConsoleReporter::OO_Tabular;
    SinkReporter display(static_cast<benchmark::ConsoleReporter::OutputOptions>(opts), sink, user,
                         quiet != 0);

    // Pitfall 2: given a file reporter but no --benchmark_out, RunSpecifiedBenchmarks prints
    // "A custom file reporter was provided but --benchmark_out=<file> was not specified" and
    // calls exit(1). We never pass one: with --benchmark_out set the library creates its own
    // reporter for --benchmark_out_format (its JSONReporter by default, the format Google's
    // compare.py reads), and without it no file is written.
    size_t n = benchmark::RunSpecifiedBenchmarks(&display, nullptr);
    return static_cast<int>(n);
}

}  // extern "C"

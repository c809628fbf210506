// Reading a 100 MB file of ~100-byte JSON lines (warm page cache) with LineReader, beside
// two baselines measured in the same run: std::getline over an std::ifstream (what a
// straightforward implementation does) and a raw read(2) + memchr loop with a carried
// partial line (the floor: no batching, no offsets, no padding).
//
//   ./file_io_benchmark --benchmark_counters_tabular=true
//
// Every variant visits each line (pointer and size) and sums the sizes, so none can skip
// the work; bytes/s counts the file size, lines/s the lines returned.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/line_reader.h"

namespace kappa {
namespace {

constexpr int64_t kFileBytes = int64_t{100} << 20;

// The benchmark input, written once per process and removed at exit.
class InputFile {
 public:
  static const InputFile& Get() {
    static const InputFile* file = new InputFile();
    return *file;
  }
  const std::string& path() const { return path_; }
  int64_t lines() const { return lines_; }
  int64_t bytes() const { return bytes_; }

 private:
  InputFile() {
    const char* tmp = std::getenv("TMPDIR");
    path_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/kappa_file_io_benchmark.", ::getpid(),
                         ".jsonl");
    auto writer = FileWriter::Open(path_, FileWriter::Mode::kTruncate);
    if (!writer.ok()) Die(writer.status());
    std::mt19937_64 rng(7);
    std::string line;
    while (bytes_ < kFileBytes) {
      // Nexmark-like bids; "extra" pads the line to 96..112 bytes.
      line = absl::StrCat("{\"type\":\"bid\",\"auction\":", rng() % 100000,
                          ",\"bidder\":", rng() % 100000, ",\"price\":", rng() % 1000000,
                          ",\"dateTime\":", 1700000000000 + lines_, ",\"extra\":\"");
      const size_t target = 96 + rng() % 17;
      if (line.size() + 3 < target) line.append(target - line.size() - 3, 'x');
      line.append("\"}\n");
      if (absl::Status status = (*writer)->Append(line); !status.ok()) Die(status);
      bytes_ += static_cast<int64_t>(line.size());
      ++lines_;
    }
    if (absl::Status status = (*writer)->Close(); !status.ok()) Die(status);
    std::atexit([] { std::remove(Get().path().c_str()); });
  }
  [[noreturn]] static void Die(const absl::Status& status) {
    std::fprintf(stderr, "file_io_benchmark: %s\n", status.ToString().c_str());
    std::exit(1);
  }

  std::string path_;
  int64_t lines_ = 0;
  int64_t bytes_ = 0;
};

void Report(benchmark::State& state, int64_t lines, int64_t line_bytes) {
  const InputFile& input = InputFile::Get();
  if (lines != input.lines()) state.SkipWithError("wrong line count");
  benchmark::DoNotOptimize(line_bytes);
  state.SetBytesProcessed(state.iterations() * input.bytes());
  state.counters["lines/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * input.lines()), benchmark::Counter::kIsRate);
}

// LineReader, batches of state.range(0) lines.
void BM_LineReader(benchmark::State& state) {
  const InputFile& input = InputFile::Get();
  const size_t max_lines = static_cast<size_t>(state.range(0));
  int64_t lines = 0;
  int64_t line_bytes = 0;
  LineBatch batch;
  for (auto _ : state) {
    auto reader = LineReader::Open(input.path(), 0, /*follow=*/false);
    if (!reader.ok()) {
      state.SkipWithError(reader.status().ToString().c_str());
      return;
    }
    lines = 0;
    while (true) {
      absl::StatusOr<LineReader::Result> result = (*reader)->Read(max_lines, &batch);
      if (!result.ok() || *result != LineReader::Result::kLines) break;
      for (size_t i = 0; i < batch.size(); ++i) {
        std::string_view line = batch.line(i);
        benchmark::DoNotOptimize(line.data());
        line_bytes += static_cast<int64_t>(line.size());
      }
      lines += static_cast<int64_t>(batch.size());
    }
  }
  Report(state, lines, line_bytes);
}
BENCHMARK(BM_LineReader)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

// Baseline: std::getline over an std::ifstream.
void BM_BaselineGetline(benchmark::State& state) {
  const InputFile& input = InputFile::Get();
  int64_t lines = 0;
  int64_t line_bytes = 0;
  std::string line;
  for (auto _ : state) {
    std::ifstream in(input.path(), std::ios::binary);
    lines = 0;
    while (std::getline(in, line)) {
      benchmark::DoNotOptimize(line.data());
      line_bytes += static_cast<int64_t>(line.size());
      ++lines;
    }
  }
  Report(state, lines, line_bytes);
}
BENCHMARK(BM_BaselineGetline)->Unit(benchmark::kMillisecond);

// Baseline: read(2) into a 1 MiB buffer, memchr for newlines, move the partial line to the
// front before the next read.
void BM_BaselineReadMemchr(benchmark::State& state) {
  const InputFile& input = InputFile::Get();
  constexpr size_t kBuffer = size_t{1} << 20;
  std::unique_ptr<char[]> buffer(new char[kBuffer]);
  int64_t lines = 0;
  int64_t line_bytes = 0;
  for (auto _ : state) {
    const int fd = ::open(input.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open failed");
      return;
    }
    lines = 0;
    size_t filled = 0;
    while (true) {
      const ssize_t n = ::read(fd, buffer.get() + filled, kBuffer - filled);
      if (n <= 0) break;
      filled += static_cast<size_t>(n);
      const char* begin = buffer.get();
      const char* end = begin + filled;
      while (const void* newline = std::memchr(begin, '\n', end - begin)) {
        benchmark::DoNotOptimize(begin);
        line_bytes += static_cast<const char*>(newline) - begin;
        ++lines;
        begin = static_cast<const char*>(newline) + 1;
      }
      filled = static_cast<size_t>(end - begin);
      std::memmove(buffer.get(), begin, filled);
    }
    ::close(fd);
  }
  Report(state, lines, line_bytes);
}
BENCHMARK(BM_BaselineReadMemchr)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kappa

// Commits one error of the kind named by argv[1], for the sanitizer builds' self-test: each
// ctest case passes only if the sanitizer's report names that error, so a sanitizer build
// that stopped detecting it (flags lost, a report that no longer fails) shows up as a
// failing test rather than as silence.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

// Opaque to the optimizer, so the errors below are committed at run time.
volatile int g_sink;
char* volatile g_leaked;

int HeapUseAfterFree() {
  int* volatile p = new int[4]{1, 2, 3, 4};  // volatile: GCC's own use-after-free warning stays out
  delete[] p;
  return p[g_sink];
}

int SignedOverflow() {
  int x = 0x7fffffff - g_sink;
  return x + 1;
}

int Leak() {
  char* p = static_cast<char*>(std::malloc(64 + g_sink));
  std::memset(p, 1, 64);
  g_leaked = p;
  g_leaked = nullptr;  // the last pointer to the block is gone
  return 0;
}

int DataRace() {
  int counter = 0;
  std::thread other([&counter] { counter += 1; });
  counter += 1;
  other.join();
  return counter == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sanitizer_self_test heap-use-after-free|signed-overflow|leak|data-race\n");
    return 2;
  }
  const char* what = argv[1];
  if (std::strcmp(what, "heap-use-after-free") == 0) return HeapUseAfterFree();
  if (std::strcmp(what, "signed-overflow") == 0) return SignedOverflow();
  if (std::strcmp(what, "leak") == 0) return Leak();
  if (std::strcmp(what, "data-race") == 0) return DataRace();
  std::fprintf(stderr, "sanitizer_self_test: unknown error '%s'\n", what);
  return 2;
}

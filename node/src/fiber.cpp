#include "loa/node/fiber.hpp"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

namespace loa::node {

namespace {

thread_local Fiber* t_current = nullptr;
thread_local Fiber* t_starting = nullptr;

}  // namespace

struct Fiber::Context {
  ucontext_t self{};
  ucontext_t caller{};
  void* map = nullptr;
  std::size_t map_bytes = 0;
};

Fiber::Fiber(std::function<void()> body, std::size_t stack_bytes)
    : body_(std::move(body)), context_(std::make_unique<Context>()) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t stack = (stack_bytes + page - 1) / page * page;
  context_->map_bytes = stack + page;
  void* map = mmap(nullptr, context_->map_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) throw std::bad_alloc();
  context_->map = map;
  // The lowest page is the guard: an overflow faults instead of writing over something else.
  mprotect(map, page, PROT_NONE);
  if (getcontext(&context_->self) != 0) {
    munmap(map, context_->map_bytes);
    throw std::bad_alloc();
  }
  context_->self.uc_stack.ss_sp = static_cast<char*>(map) + page;
  context_->self.uc_stack.ss_size = stack;
  context_->self.uc_link = &context_->caller;  // the body's return goes back to resume()
  makecontext(&context_->self, &Fiber::trampoline, 0);
}

Fiber::~Fiber() {
  if (started_ && !finished_) std::abort();  // its stack still holds live objects
  munmap(context_->map, context_->map_bytes);
}

void Fiber::trampoline() {
  Fiber* self = t_starting;
  t_starting = nullptr;
  self->body_();
  self->finished_ = true;
  t_current = nullptr;
}

void Fiber::resume() {
  if (finished_ || t_current != nullptr) return;
  woken_ = false;
  t_current = this;
  if (!started_) {
    started_ = true;
    t_starting = this;
  }
  swapcontext(&context_->caller, &context_->self);
  t_current = nullptr;
}

Fiber* Fiber::current() {
  return t_current;
}

void Fiber::sleep_until(runtime::Micros t) {
  Fiber* self = t_current;
  if (self == nullptr || self->cancelled_) return;
  self->wake_at_ = t;
  t_current = nullptr;
  swapcontext(&self->context_->self, &self->context_->caller);
  t_current = self;
}

void FiberClock::sleep_until(runtime::Micros t) {
  if (Fiber::current() != nullptr) {
    Fiber::sleep_until(t);
  } else {
    inner_.sleep_until(t);
  }
}

}  // namespace loa::node

// Clocked C-simulation of a DATAFLOW region (hls/fifo_sim/README.md).
//
// Selected with -DERN_CLOCKED_SIM through dataflow.h, which must be included before
// <hls_stream.h>: this header takes the place of the ap_types C model (it defines that header's
// guard) and of ERN_PIPELINE_ITER, the macro every pipelined loop of hls/lib starts its body with.
//
// Every ERN_PROCESS of a region is a coroutine (ucontext, its own stack); one scheduler steps all
// of them once per clock cycle, so the region runs in lock step with these (Vitis HLS) semantics:
//   - a pipelined loop starts at most one iteration every II cycles (ERN_PIPELINE_ITER(II));
//   - an iteration whose blocking read finds its FIFO empty, or whose blocking write finds it
//     full, stalls (stall-style pipeline: the whole loop waits, its next start moves by the
//     stalled cycles);
//   - an iteration's reads and writes take effect together, in the cycle it completes (the
//     RTL of a stall-style pipeline gates every FIFO enable of a state with one block signal:
//     a read does not free its slot, a write does not show its word, while another access of
//     the same iteration still waits);
//   - a word written in cycle t can be read from cycle t+1 on, a slot freed in cycle t can be
//     written from cycle t+1 on (so the order in which processes are stepped does not matter);
//   - a FIFO holds at most its depth (ERN_FIFO_DEPTH, the STREAM pragma; 0 = unbounded: the
//     top-level ports, whose input is all there at cycle 0 and whose output never blocks);
//   - non-blocking reads/writes and empty()/full() polls never block; a poll that fails marks the
//     cycle as starved (empty) or blocked (full) in the counters.
// Not modelled: pipeline depth (an iteration does all its reads and writes in one cycle),
// loop entry/exit cycles between loops, the frame-count handshake.
//
// Counters: every cycle of every process is busy (it started or finished an iteration, or moved
// a word), starved (stalled on an empty FIFO), blocked (stalled on a full FIFO) or idle (waiting
// for its II, finished). Every FIFO keeps its peak occupancy and the cycle of every write, from
// which print_report(frames) derives the cycles per frame at the output.
// No process can move (every live process stalled, nothing moved this cycle): a one-line-per-FIFO
// report and exit status 3. No word moved for ERN_CLOCKED_MAX_IDLE cycles (default 1,000,000;
// pollers spinning: livelock): the same report, exit status 4.
// Environment: ERN_CLOCKED_DEPTHS="name=depth,..." overrides generated depths (0 = unbounded,
// `*` = every FIFO without an entry of its own); ERN_CLOCKED_STACK_KIB sets the coroutine stack
// (default 1024 KiB, mapped lazily, with a guard page); ERN_CLOCKED_TRACE=1 prints what every
// process did in every cycle (mark: 0 idle, 1 busy, 2 starved, 3 blocked).
#ifndef ERN_CLOCKED_STREAM_H
#define ERN_CLOCKED_STREAM_H

#ifdef X_HLS_STREAM_SIM_H
#error "clocked_stream.h must be included before <hls_stream.h> (include dataflow.h first)"
#endif
#define X_HLS_STREAM_SIM_H 1  // the ap_types hls_stream.h is now a no-op

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ern {
namespace clocked {

class FifoBase;

/// What a process does in its current cycle (and why it is parked between cycles).
enum class State { kRun, kWaitII, kStallRead, kStallWrite, kDone };
/// How a cycle of a process is counted.
enum class Mark { kIdle, kBusy, kStarved, kBlocked };

/// One ERN_PROCESS: a coroutine with its own stack, its pipeline timing and its counters.
struct Process {
    std::string name;
    std::function<void()> body;
    ucontext_t ctx;
    void* stack = nullptr;
    size_t stack_bytes = 0;
    State state = State::kRun;
    FifoBase* waits_on = nullptr;   ///< the FIFO of a stall
    long long ready_at = 0;         ///< earliest cycle of the next pipelined iteration
    long long stall_since = 0;      ///< cycle the current stall began
    Mark mark = Mark::kIdle;        ///< this cycle's count so far
    /// FIFOs read (false) or written (true) by the current iteration, to commit when it completes
    std::vector<std::pair<FifoBase*, bool> > pending;
    unsigned long long busy = 0, starved = 0, blocked = 0;
};

/// Figures of one finished region, printed by print_report().
struct FifoFigures {
    std::string name;
    unsigned depth;
    unsigned peak;
    std::string reader, writer;
    std::vector<long long> writes;  ///< cycle of every write in the region
};
struct RegionFigures {
    long long cycles = 0;
    std::vector<Process*> procs;  ///< kept for their counters (bodies released)
    std::vector<FifoFigures> fifos;
};

/// Names in machine-readable lines: everything outside [A-Za-z0-9._/:-] percent-encoded.
inline std::string escape(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || std::strchr("._/:-", c)) {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

/// The simulator: the clock, the running coroutine, all live FIFOs, the last region's figures.
struct Sim {
    long long now = 0;              ///< current cycle of the running region
    bool in_region = false;
    Process* current = nullptr;     ///< the coroutine running now (nullptr: main / the scheduler)
    ucontext_t scheduler;
    std::vector<FifoBase*> fifos;   ///< live FIFOs in construction order
    long long last_move = 0;        ///< last cycle a word moved
    RegionFigures last;             ///< the last finished region

    static Sim& get() {
        static Sim sim;
        return sim;
    }
    /// Park the running coroutine until the scheduler resumes it.
    void yield() {
        Process* p = current;
        swapcontext(&p->ctx, &scheduler);
    }
    /// The running iteration is complete: its reads and writes take effect now.
    inline void commit(Process* p);
    [[noreturn]] void stop(const char* why, int status);
};

/// Depth overrides from ERN_CLOCKED_DEPTHS ("name=depth,...,*=depth"); -1 = none.
inline long depth_override(const std::string& name) {
    static std::map<std::string, long> table = [] {
        std::map<std::string, long> t;
        const char* env = std::getenv("ERN_CLOCKED_DEPTHS");
        std::string s = env ? env : "";
        size_t pos = 0;
        while (pos < s.size()) {
            size_t end = s.find(',', pos);
            if (end == std::string::npos) end = s.size();
            const std::string item = s.substr(pos, end - pos);
            const size_t eq = item.find('=');
            char* rest = nullptr;
            const long d = eq == std::string::npos ? -1 : std::strtol(item.c_str() + eq + 1, &rest, 10);
            if (eq == std::string::npos || d < 0 || !rest || *rest) {
                std::fprintf(stderr, "clocked: bad ERN_CLOCKED_DEPTHS entry '%s' (want name=depth)\n", item.c_str());
                std::exit(2);
            }
            t[item.substr(0, eq)] = d;
            pos = end + 1;
        }
        return t;
    }();
    std::map<std::string, long>::const_iterator it = table.find(name);
    if (it == table.end()) it = table.find("*");
    return it == table.end() ? -1 : it->second;
}

/// What all stream types share: name, bound, timing of reads and writes, who reads and writes.
class FifoBase {
  public:
    explicit FifoBase(const std::string& name) : name_(name) { Sim::get().fifos.push_back(this); }
    virtual ~FifoBase() {
        std::vector<FifoBase*>& v = Sim::get().fifos;
        for (size_t i = 0; i < v.size(); i++) {
            if (v[i] == this) {
                v.erase(v.begin() + long(i));
                break;
            }
        }
    }
    FifoBase(const FifoBase&) = delete;
    FifoBase& operator=(const FifoBase&) = delete;

    /// Bound the FIFO (0 = unbounded), unless ERN_CLOCKED_DEPTHS says otherwise.
    void set_depth(unsigned depth) {
        const long o = depth_override(name_);
        depth_ = o >= 0 ? unsigned(o) : depth;
    }
    const std::string& name() const { return name_; }
    unsigned depth() const { return depth_; }

    /// A word is there to read in the current cycle (written in an earlier one).
    virtual bool can_read() const = 0;
    /// A slot is free in the current cycle: occupancy at the start of the cycle plus this
    /// cycle's writes (a slot freed now is only visible next cycle).
    bool can_write() const {
        if (depth_ == 0) return true;
        const Sim& sim = Sim::get();
        const size_t freed_now = read_cycle_ == sim.now && sim.in_region ? reads_in_cycle_ : 0;
        return fill() + held_ + freed_now < depth_;
    }
    /// Apply the reader's (or the writer's) accesses of the iteration completing now: the
    /// slots it took free next cycle / the words it wrote become visible next cycle.
    void commit(bool writes) {
        Sim& sim = Sim::get();
        if (writes) {
            for (; unstamped_ > 0; unstamped_--) write_cycles_.push_back(sim.now);
            write_cycle_ = sim.now;
            stamp_writes(sim.now);
        } else {
            if (read_cycle_ != sim.now) {
                read_cycle_ = sim.now;
                reads_in_cycle_ = 0;
            }
            reads_in_cycle_ += held_;
            held_ = 0;
        }
        sim.last_move = sim.now;
        if (sim.current && sim.current->mark == Mark::kIdle) sim.current->mark = Mark::kBusy;
    }
    /// One line of the stall report.
    std::string describe() const {
        // fill: slots in use (words held, words taken by a stalled iteration, words written by a
        // stalled iteration and not visible yet)
        std::string s = "clocked: fifo_state name=" + escape(name_) + " fill=" + std::to_string(fill() + held_) +
                        " depth=" + std::to_string(depth_) + " taken=" + std::to_string(held_) +
                        " unseen=" + std::to_string(unstamped_);
        s += " writer=" + escape(writer_.empty() ? "-" : writer_) + " reader=" + escape(reader_.empty() ? "-" : reader_);
        if (waiting_) s += std::string(" waiting=") + (waiting_read_ ? "read-empty" : "write-full");
        return s;
    }
    FifoFigures figures() const { return FifoFigures{name_, depth_, peak_, reader_, writer_, write_cycles_}; }
    void reset_figures() {
        peak_ = unsigned(fill());
        write_cycles_.clear();
    }
    bool waited_on() const { return waiting_; }
    bool writer_waits() const { return waiting_ && !waiting_read_; }

  protected:
    virtual size_t fill() const = 0;
    /// Give the words written by the current iteration their write cycle (they become visible).
    virtual void stamp_writes(long long cycle) = 0;

    /// Block the running process until a word can be read (main: fail at once).
    void wait_readable() {
        Sim& sim = Sim::get();
        note_reader();
        if (!sim.current) {
            if (!can_read()) stop_outside("a read of an empty stream outside a dataflow region");
            return;
        }
        one_read_per_cycle();
        stall_until(true);
    }
    void wait_writable() {
        Sim& sim = Sim::get();
        note_writer();
        if (!sim.current) return;  // main: top-level ports are unbounded
        one_write_per_cycle();
        stall_until(false);
    }
    /// Book-keeping of a successful read / write: taken now, in effect when the iteration
    /// completes (Sim::commit); outside a region at once. Returns the stamp a written word gets
    /// until then (kUnstamped: not visible yet; -1: written before the region, there at cycle 0).
    static constexpr long long kUnstamped = 0x7fffffffffffffffLL;
    void did_read() {
        Process* p = Sim::get().current;
        if (!p) return;
        if (!held_) p->pending.push_back(std::make_pair(this, false));
        held_++;
    }
    long long did_write(size_t fill_after) {
        if (fill_after + held_ > peak_) peak_ = unsigned(fill_after + held_);
        Process* p = Sim::get().current;
        if (!p) return -1;
        if (!unstamped_) p->pending.push_back(std::make_pair(this, true));
        unstamped_++;
        return kUnstamped;
    }
    /// A failed poll: counted as a stall cycle of the polling process, never blocks.
    void poll_failed(bool empty) {
        Process* p = Sim::get().current;
        if (p && p->mark != Mark::kStarved && p->mark != Mark::kBlocked) p->mark = empty ? Mark::kStarved : Mark::kBlocked;
    }
    void note_reader() {
        Process* p = Sim::get().current;
        if (p && reader_.empty()) reader_ = p->name;
    }
    void note_writer() {
        Process* p = Sim::get().current;
        if (p && writer_.empty()) writer_ = p->name;
    }

  private:
    /// A second read of this FIFO in one iteration or cycle (code outside a pipelined loop):
    /// the first one completes, the second goes in the next cycle.
    void one_read_per_cycle() {
        if (held_ > 0 || (read_cycle_ == Sim::get().now && reads_in_cycle_ > 0)) next_cycle();
    }
    void one_write_per_cycle() {
        if (unstamped_ > 0 || write_cycle_ == Sim::get().now) next_cycle();
    }
    static void next_cycle() {
        Sim& sim = Sim::get();
        Process* p = sim.current;
        sim.commit(p);
        if (p->ready_at <= sim.now) p->ready_at = sim.now + 1;
        p->state = State::kWaitII;
        while (sim.now < p->ready_at) sim.yield();
        p->state = State::kRun;
    }
    /// Park until the FIFO allows the access; a stall moves the loop's next start by its length.
    void stall_until(bool read) {
        Sim& sim = Sim::get();
        Process* p = sim.current;
        if (read ? can_read() : can_write()) return;
        p->state = read ? State::kStallRead : State::kStallWrite;
        p->waits_on = this;
        p->stall_since = sim.now;
        waiting_ = true;
        waiting_read_ = read;
        sim.yield();  // the scheduler resumes us in the first cycle the access can go through
        waiting_ = false;
        p->waits_on = nullptr;
        p->state = State::kRun;
        p->ready_at += sim.now - p->stall_since;
    }
    [[noreturn]] static void stop_outside(const char* why) {
        std::fprintf(stderr, "clocked: %s\n", why);
        std::exit(3);
    }

    std::string name_;
    unsigned depth_ = 0;
    unsigned peak_ = 0;
    std::string reader_, writer_;   ///< first process seen reading / writing
    long long read_cycle_ = -2, write_cycle_ = -2;  ///< cycle of the last committed read / write
    size_t reads_in_cycle_ = 0;     ///< committed reads in read_cycle_ (their slots free next cycle)
    size_t held_ = 0;               ///< words taken by the running iteration, slots not yet free
    size_t unstamped_ = 0;          ///< words written by the running iteration, not yet visible
    bool waiting_ = false, waiting_read_ = false;
    std::vector<long long> write_cycles_;
};

inline void Sim::commit(Process* p) {
    for (size_t i = 0; i < p->pending.size(); i++) p->pending[i].first->commit(p->pending[i].second);
    p->pending.clear();
}

[[noreturn]] inline void Sim::stop(const char* why, int status) {
    std::string stalled, full;
    std::printf("CLOCKED STALL: %s at cycle %lld\n", why, now);
    for (size_t i = 0; i < fifos.size(); i++) {
        if (fifos[i]->waited_on()) stalled += (stalled.empty() ? "" : " ") + fifos[i]->name();
        if (fifos[i]->writer_waits()) full += (full.empty() ? "" : " ") + fifos[i]->name();
    }
    for (size_t i = 0; i < fifos.size(); i++) std::printf("%s\n", fifos[i]->describe().c_str());
    std::printf("stalled FIFOs: %s\n", stalled.c_str());
    std::printf("full FIFOs (a writer waits; deepen one of these): %s\n", full.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "CLOCKED STALL: %s at cycle %lld; stalled FIFOs: %s\n", why, now, stalled.c_str());
    std::fflush(stderr);
    std::_Exit(status);
}

/// First statement of every pipelined loop body: start the iteration no earlier than II cycles
/// after the previous one (outside a dataflow region: nothing).
inline void pipeline_iter(unsigned ii) {
    Sim& sim = Sim::get();
    Process* p = sim.current;
    if (!p) return;
    sim.commit(p);  // the previous iteration is complete
    if (p->ready_at > sim.now) {
        p->state = State::kWaitII;
        while (sim.now < p->ready_at) sim.yield();
        p->state = State::kRun;
    }
    p->ready_at = sim.now + ii;
    if (p->mark == Mark::kIdle) p->mark = Mark::kBusy;
}

/// The processes of one dataflow region: collected by spawn(), run in lock step when the scope
/// ends (the generated top function returns).
class Scope {
  public:
    Scope() {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    void spawn(const char* name, std::function<void()> body) {
        Process* p = new Process;
        p->name = name;
        p->body = std::move(body);
        procs_.push_back(p);
    }
    ~Scope() { run(); }

  private:
    static size_t stack_bytes() {
        const char* env = std::getenv("ERN_CLOCKED_STACK_KIB");
        const long kib = env ? std::atol(env) : 1024;
        return size_t(kib > 64 ? kib : 64) * 1024;
    }
    /// Coroutine entry: run the body of the process the scheduler just switched to.
    static void trampoline() {
        Sim& sim = Sim::get();
        Process* p = sim.current;
        p->body();
        sim.commit(p);
        p->state = State::kDone;
        swapcontext(&p->ctx, &sim.scheduler);
    }
    static void start(Process* p) {
        const size_t page = size_t(sysconf(_SC_PAGESIZE));
        p->stack_bytes = stack_bytes();
        void* mem = mmap(nullptr, p->stack_bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            std::fprintf(stderr, "clocked: cannot map a coroutine stack\n");
            std::exit(2);
        }
        mprotect(mem, page, PROT_NONE);  // guard page: an overflow faults instead of corrupting
        p->stack = mem;
        getcontext(&p->ctx);
        p->ctx.uc_stack.ss_sp = static_cast<char*>(mem) + page;
        p->ctx.uc_stack.ss_size = p->stack_bytes;
        p->ctx.uc_link = nullptr;
        makecontext(&p->ctx, &Scope::trampoline, 0);
    }
    static void release(Process* p) {
        munmap(p->stack, p->stack_bytes + size_t(sysconf(_SC_PAGESIZE)));
        p->stack = nullptr;
        p->body = nullptr;
    }
    /// Whether a parked process can do something this cycle (without switching to it).
    static bool runnable(const Process* p, long long now) {
        switch (p->state) {
            case State::kWaitII: return now >= p->ready_at;
            case State::kStallRead: return p->waits_on->can_read();
            case State::kStallWrite: return p->waits_on->can_write();
            case State::kDone: return false;
            default: return true;
        }
    }
    static void count(Process* p) {
        switch (p->mark) {
            case Mark::kBusy: p->busy++; break;
            case Mark::kStarved: p->starved++; break;
            case Mark::kBlocked: p->blocked++; break;
            default: break;
        }
    }

    void run() {
        Sim& sim = Sim::get();
        for (size_t i = 0; i < sim.fifos.size(); i++) sim.fifos[i]->reset_figures();
        for (size_t i = 0; i < procs_.size(); i++) start(procs_[i]);
        const char* env = std::getenv("ERN_CLOCKED_MAX_IDLE");
        const long long max_idle = env ? std::atoll(env) : 1000000;
        const bool trace = std::getenv("ERN_CLOCKED_TRACE") != nullptr;  // every process, every cycle
        sim.now = 0;
        sim.last_move = 0;
        sim.in_region = true;
        size_t alive = procs_.size();
        while (alive > 0) {
            bool stalled_all = true;  // every live process parked on a FIFO that cannot move
            for (size_t i = 0; i < procs_.size(); i++) {
                Process* p = procs_[i];
                if (p->state == State::kDone) continue;
                p->mark = Mark::kIdle;
                if (runnable(p, sim.now)) {
                    sim.current = p;
                    swapcontext(&sim.scheduler, &p->ctx);
                    sim.current = nullptr;
                    if (p->state == State::kDone) {
                        alive--;
                        release(p);
                    }
                }
                if (p->state == State::kStallRead) p->mark = Mark::kStarved;
                if (p->state == State::kStallWrite) p->mark = Mark::kBlocked;
                if (p->state != State::kStallRead && p->state != State::kStallWrite) stalled_all = false;
                count(p);
                if (trace) std::printf("clocked: trace cycle=%lld process=%s mark=%d state=%d\n", sim.now,
                                       escape(p->name).c_str(), int(p->mark), int(p->state));
            }
            if (alive > 0 && stalled_all && sim.last_move != sim.now) sim.stop("deadlock: every process is stalled", 3);
            if (sim.now - sim.last_move > max_idle) sim.stop("livelock: no word moved for ERN_CLOCKED_MAX_IDLE cycles", 4);
            sim.now++;
        }
        sim.in_region = false;
        sim.last.cycles = sim.now;
        for (size_t i = 0; i < sim.last.procs.size(); i++) delete sim.last.procs[i];
        sim.last.procs = procs_;
        sim.last.fifos.clear();
        for (size_t i = 0; i < sim.fifos.size(); i++) sim.last.fifos.push_back(sim.fifos[i]->figures());
        procs_.clear();
    }

    std::vector<Process*> procs_;
};

/// Cycle of the last write of each frame (writes split evenly over `frames`); empty if uneven.
inline std::vector<long long> frame_ends(const std::vector<long long>& writes, unsigned frames) {
    std::vector<long long> ends;
    if (frames == 0 || writes.empty() || writes.size() % frames) return ends;
    const size_t per = writes.size() / frames;
    for (unsigned f = 0; f < frames; f++) ends.push_back(writes[(f + 1) * per - 1]);
    return ends;
}

/// Mean cycles between consecutive frame ends from frame 2 on (the steady state); -1 if < 2 frames.
inline double steady_interval(const std::vector<long long>& ends) {
    if (ends.size() < 2) return -1;
    return double(ends.back() - ends.front()) / double(ends.size() - 1);
}

/// Machine-readable figures of the last region (hls/clocked.py parses them). The sink is the
/// stream the region writes and does not read (the output port).
inline void print_report(unsigned frames) {
    const RegionFigures& r = Sim::get().last;
    std::printf("clocked: region cycles=%lld frames=%u processes=%u fifos=%u\n", r.cycles, frames,
                unsigned(r.procs.size()), unsigned(r.fifos.size()));
    for (size_t i = 0; i < r.procs.size(); i++) {
        const Process* p = r.procs[i];
        std::printf("clocked: process name=%s busy=%llu starved=%llu blocked=%llu\n", escape(p->name).c_str(), p->busy,
                    p->starved, p->blocked);
    }
    for (size_t i = 0; i < r.fifos.size(); i++) {
        const FifoFigures& f = r.fifos[i];
        const std::vector<long long> ends = frame_ends(f.writes, frames);
        const bool sink = !f.writer.empty() && f.reader.empty();
        std::printf("clocked: fifo name=%s depth=%u peak=%u writes=%u interval=%.1f first=%lld sink=%d writer=%s "
                    "reader=%s\n", escape(f.name).c_str(), f.depth, f.peak, unsigned(f.writes.size()),
                    steady_interval(ends), ends.empty() ? -1LL : ends.front() + 1, int(sink),
                    escape(f.writer.empty() ? "-" : f.writer).c_str(), escape(f.reader.empty() ? "-" : f.reader).c_str());
        if (sink) {
            std::printf("clocked: frames sink=%s ends=", escape(f.name).c_str());
            for (size_t k = 0; k < ends.size(); k++) std::printf("%s%lld", k ? "," : "", ends[k] + 1);
            std::printf("\n");
        }
    }
    std::fflush(stdout);
}

/// Names of FIFOs constructed without one.
inline std::string auto_name() {
    static unsigned counter = 0;
    return "hls_stream." + std::to_string(++counter);
}

}  // namespace clocked
}  // namespace ern

#define ERN_PIPELINE_ITER(II) ::ern::clocked::pipeline_iter(II);

namespace hls {

/// Drop-in for the ap_types hls::stream<T> in the clocked simulation: bounded (set_depth), every
/// word stamped with its write cycle.
template <typename T>
class stream : public ern::clocked::FifoBase {
  public:
    stream() : FifoBase(ern::clocked::auto_name()) {}
    explicit stream(const char* name) : FifoBase(name) {}
    explicit stream(const std::string& name) : FifoBase(name) {}
    ~stream() {
        if (!data_.empty()) {
            std::printf("WARNING: Hls::stream '%s' contains leftover data (%u values)\n", name().c_str(),
                        unsigned(data_.size()));
        }
    }

    T read() {
        wait_readable();
        return pop();
    }
    void read(T& value) { value = read(); }
    void write(const T& value) {
        wait_writable();
        push(value);
    }
    bool read_nb(T& value) {
        note_reader();
        if (!can_read()) {
            poll_failed(true);
            return false;
        }
        value = pop();
        return true;
    }
    bool write_nb(const T& value) {
        note_writer();
        if (!can_write()) {
            poll_failed(false);
            return false;
        }
        push(value);
        return true;
    }
    bool empty() {
        note_reader();
        const bool e = !can_read();
        if (e) poll_failed(true);
        return e;
    }
    bool full() {
        note_writer();
        const bool f = !can_write();
        if (f) poll_failed(false);
        return f;
    }
    size_t size() { return data_.size(); }
    void operator>>(T& value) { read(value); }
    void operator<<(const T& value) { write(value); }

    bool can_read() const {
        const ern::clocked::Sim& sim = ern::clocked::Sim::get();
        return !data_.empty() && (!sim.in_region || data_.front().second < sim.now);
    }

  protected:
    size_t fill() const { return data_.size(); }
    void stamp_writes(long long cycle) {
        for (typename std::deque<std::pair<T, long long> >::reverse_iterator it = data_.rbegin();
             it != data_.rend() && it->second == kUnstamped; ++it)
            it->second = cycle;
    }

  private:
    T pop() {
        T value = data_.front().first;
        data_.pop_front();
        did_read();
        return value;
    }
    void push(const T& value) {
        data_.push_back(std::make_pair(value, 0LL));
        data_.back().second = did_write(data_.size());
    }
    std::deque<std::pair<T, long long> > data_;
};

}  // namespace hls

#endif  // ERN_CLOCKED_STREAM_H

// Bounded, thread-safe hls::stream for the threaded C-simulation (hls/fifo_sim/README.md).
//
// Selected with -DERN_FIFO_SIM through dataflow.h, which must be included before <hls_stream.h>:
// this header takes the place of the ap_types C model (it defines that header's guard).
//
// Semantics (what the RTL FIFOs of a DATAFLOW region do, without cycles):
//   - a FIFO holds at most `depth` values (set_depth; 0 = unbounded: the top-level ports);
//   - read() blocks while empty, write() blocks while full;
//   - every process of a region runs in its own thread (Scope, ERN_PROCESS).
// Stall detection: all FIFOs share one lock; a process about to block is counted, and when
// every running process is blocked nothing can ever move again: the simulation prints which
// process waits on which FIFO (empty or full, with fill levels) and exits with status 3.
// A watchdog also stops a region that makes no FIFO progress for ERN_FIFO_TIMEOUT_S seconds
// (default 60; status 4). `print_summary()` lists every FIFO's depth and its highest fill level.
#ifndef ERN_FIFO_STREAM_H
#define ERN_FIFO_STREAM_H

#ifdef X_HLS_STREAM_SIM_H
#error "fifo_stream.h must be included before <hls_stream.h> (include dataflow.h first)"
#endif
#define X_HLS_STREAM_SIM_H 1  // the ap_types hls_stream.h is now a no-op

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ern {
namespace fifo_sim {

class FifoBase;

/// The process name of the calling thread ("main" outside a dataflow region).
inline const char*& current_process() {
    thread_local const char* name = "main";
    return name;
}

/// Shared state of all FIFOs and process threads.
struct Monitor {
    std::mutex mutex;                   ///< guards everything below and every FIFO
    std::vector<FifoBase*> fifos;       ///< live FIFOs, in construction order
    unsigned alive = 0;                 ///< process threads running
    unsigned blocked = 0;               ///< of those, waiting on a FIFO
    unsigned long long progress = 0;    ///< reads + writes + finished processes
    std::map<std::string, std::pair<unsigned, unsigned> > high_water;  ///< name -> (depth, max fill)

    static Monitor& get() {
        static Monitor monitor;
        return monitor;
    }
    /// Called with the lock held when a thread is about to block: stop if nothing can move.
    void check() {
        if (blocked >= alive) stall(alive ? "every process is blocked" : "a read outside the dataflow region");
    }
    [[noreturn]] void stall(const char* why);
};

/// What all stream types share: name, bound, fill level and who waits on it.
class FifoBase {
  public:
    explicit FifoBase(const std::string& name) : name_(name) {
        Monitor& m = Monitor::get();
        std::lock_guard<std::mutex> lock(m.mutex);
        m.fifos.push_back(this);
    }
    virtual ~FifoBase() {
        Monitor& m = Monitor::get();
        std::lock_guard<std::mutex> lock(m.mutex);
        std::pair<unsigned, unsigned>& hw = m.high_water[name_];
        if (depth_ > hw.first) hw.first = depth_;
        if (max_fill_ > hw.second) hw.second = max_fill_;
        for (size_t i = 0; i < m.fifos.size(); i++) {
            if (m.fifos[i] == this) {
                m.fifos.erase(m.fifos.begin() + long(i));
                break;
            }
        }
    }
    FifoBase(const FifoBase&) = delete;
    FifoBase& operator=(const FifoBase&) = delete;

    /// Bound the FIFO (0 = unbounded).
    void set_depth(unsigned depth) {
        std::lock_guard<std::mutex> lock(Monitor::get().mutex);
        depth_ = depth;
    }
    const std::string& name() const { return name_; }

    /// One line about this FIFO for the stall report (lock held).
    std::string describe() const {
        const size_t n = fill();
        std::string s = name_ + " " + std::to_string(n) + "/" + (depth_ ? std::to_string(depth_) : std::string("inf"));
        if (reader_) s += std::string(" <- '") + reader_ + "' waits to read (empty)";
        if (writer_) s += std::string(" <- '") + writer_ + "' waits to write (full)";
        return s;
    }
    bool waited_on() const { return reader_ || writer_; }

  protected:
    virtual size_t fill() const = 0;  ///< values held (lock held)

    bool is_full(size_t n) const { return depth_ != 0 && n >= depth_; }
    void note_fill(size_t n) {
        if (n > max_fill_) max_fill_ = unsigned(n);
    }
    /// Block until a writer wakes us (lock held by `lock`).
    void wait_read(std::unique_lock<std::mutex>& lock) {
        Monitor& m = Monitor::get();
        reader_ = current_process();
        m.blocked++;
        m.check();
        while (reader_) can_read_.wait(lock);
    }
    void wait_write(std::unique_lock<std::mutex>& lock) {
        Monitor& m = Monitor::get();
        writer_ = current_process();
        m.blocked++;
        m.check();
        while (writer_) can_write_.wait(lock);
    }
    /// After a write: a waiting reader may go on (it is no longer counted as blocked).
    void wake_reader() {
        Monitor& m = Monitor::get();
        m.progress++;
        if (reader_) {
            reader_ = nullptr;
            m.blocked--;
            can_read_.notify_one();
        }
    }
    void wake_writer() {
        Monitor& m = Monitor::get();
        m.progress++;
        if (writer_) {
            writer_ = nullptr;
            m.blocked--;
            can_write_.notify_one();
        }
    }

  private:
    std::string name_;
    unsigned depth_ = 0;
    unsigned max_fill_ = 0;
    const char* reader_ = nullptr;  ///< process waiting to read, if any
    const char* writer_ = nullptr;  ///< process waiting to write, if any
    std::condition_variable can_read_, can_write_;
};

[[noreturn]] inline void Monitor::stall(const char* why) {
    std::string stalled;
    std::printf("FIFO STALL: %s (%u processes running, %u blocked)\n", why, alive, blocked);
    for (size_t i = 0; i < fifos.size(); i++) {
        if (fifos[i]->waited_on()) {
            std::printf("  %s\n", fifos[i]->describe().c_str());
            stalled += (stalled.empty() ? "" : " ") + fifos[i]->name();
        }
    }
    std::printf("  fill levels:");
    for (size_t i = 0; i < fifos.size(); i++) std::printf(" %s", fifos[i]->describe().c_str());
    std::printf("\nstalled FIFOs: %s\n", stalled.c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "FIFO STALL: %s; stalled FIFOs: %s\n", why, stalled.c_str());
    std::fflush(stderr);
    std::_Exit(3);
}

/// The processes of one dataflow region: collected by spawn(), run in threads when the scope
/// ends (all counted as running before any starts), joined, watched for lack of progress.
class Scope {
  public:
    Scope() {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    void spawn(const char* name, std::function<void()> body) { procs_.emplace_back(name, std::move(body)); }
    ~Scope() { run(); }

  private:
    void run() {
        Monitor& m = Monitor::get();
        {
            std::lock_guard<std::mutex> lock(m.mutex);
            m.alive += unsigned(procs_.size());
        }
        bool done = false;
        std::thread watchdog([&m, &done]() { watch(m, done); });
        std::vector<std::thread> threads;
        for (size_t i = 0; i < procs_.size(); i++) {
            std::pair<const char*, std::function<void()> >* p = &procs_[i];
            threads.emplace_back([&m, p]() {
                current_process() = p->first;
                p->second();
                std::lock_guard<std::mutex> lock(m.mutex);
                m.alive--;
                m.progress++;
                if (m.alive > 0 && m.blocked >= m.alive) m.stall("every remaining process is blocked");
            });
        }
        for (size_t i = 0; i < threads.size(); i++) threads[i].join();
        {
            std::lock_guard<std::mutex> lock(m.mutex);
            done = true;
        }
        watchdog.join();
    }

    static void watch(Monitor& m, const bool& done) {
        const char* env = std::getenv("ERN_FIFO_TIMEOUT_S");
        const double timeout = env ? std::atof(env) : 60.0;
        unsigned long long last = ~0ull;
        std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            std::lock_guard<std::mutex> lock(m.mutex);
            if (done) return;
            const std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
            if (m.progress != last) {
                last = m.progress;
                since = now;
            } else if (std::chrono::duration<double>(now - since).count() > timeout) {
                std::printf("FIFO STALL: no FIFO progress for %.0f s (watchdog)\n", timeout);
                m.stall("watchdog: no progress");
            }
        }
    }

    std::vector<std::pair<const char*, std::function<void()> > > procs_;
};

/// Every FIFO seen so far: depth and highest fill level (the largest over all calls).
inline void print_summary() {
    Monitor& m = Monitor::get();
    std::lock_guard<std::mutex> lock(m.mutex);
    for (std::map<std::string, std::pair<unsigned, unsigned> >::const_iterator it = m.high_water.begin();
         it != m.high_water.end(); ++it) {
        std::printf("fifo_sim: fifo=%s depth=%u high_water=%u\n", it->first.c_str(), it->second.first,
                    it->second.second);
    }
}

/// Names of FIFOs constructed without one.
inline std::string auto_name() {
    static unsigned counter = 0;
    std::lock_guard<std::mutex> lock(Monitor::get().mutex);
    return "hls_stream." + std::to_string(++counter);
}

}  // namespace fifo_sim
}  // namespace ern

namespace hls {

/// Drop-in for the ap_types hls::stream<T>: blocking, bounded (set_depth), thread-safe.
template <typename T>
class stream : public ern::fifo_sim::FifoBase {
  public:
    stream() : FifoBase(ern::fifo_sim::auto_name()) {}
    explicit stream(const char* name) : FifoBase(name) {}
    explicit stream(const std::string& name) : FifoBase(name) {}
    ~stream() {
        if (!data_.empty()) {
            std::printf("WARNING: Hls::stream '%s' contains leftover data (%u values)\n", name().c_str(),
                        unsigned(data_.size()));
        }
    }

    T read() {
        std::unique_lock<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        while (data_.empty()) wait_read(lock);
        T value = data_.front();
        data_.pop_front();
        wake_writer();
        return value;
    }
    void read(T& value) { value = read(); }
    void write(const T& value) {
        std::unique_lock<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        while (is_full(data_.size())) wait_write(lock);
        data_.push_back(value);
        note_fill(data_.size());
        wake_reader();
    }
    bool read_nb(T& value) {
        std::unique_lock<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        if (data_.empty()) return false;
        value = data_.front();
        data_.pop_front();
        wake_writer();
        return true;
    }
    bool write_nb(const T& value) {
        std::unique_lock<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        if (is_full(data_.size())) return false;
        data_.push_back(value);
        note_fill(data_.size());
        wake_reader();
        return true;
    }
    bool empty() {
        std::lock_guard<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        return data_.empty();
    }
    bool full() {
        std::lock_guard<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        return is_full(data_.size());
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(ern::fifo_sim::Monitor::get().mutex);
        return data_.size();
    }
    void operator>>(T& value) { read(value); }
    void operator<<(const T& value) { write(value); }

  protected:
    size_t fill() const { return data_.size(); }

  private:
    std::deque<T> data_;
};

}  // namespace hls

#endif  // ERN_FIFO_STREAM_H

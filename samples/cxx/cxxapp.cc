// cxxapp: an ordinary C++ program for Debian's libstdc++.a (glibc flavour), compiled with the distribution's flags
// only (g++ -O2 -c: PIE code, -fstack-protector-strong, -fcf-protection) and no UKL flag. samples/cxx/Makefile links
// it twice: with ukl-link into the kernel (what g++ -static gives ld, with crtbeginS.o/crtendS.o) and with
// g++ -static as an ordinary program. CxxTests runs both in one boot and requires the same output.
//
// One line per check, "cxx: NAME ok DETAILS" or "cxx: NAME FAIL DETAILS"; the output must not depend on where it
// runs (no addresses, times or thread ids). The exit status is the number of failures.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures;

void report(const std::string &name, bool ok, const std::string &details)
{
    std::cout << "cxx: " << name << (ok ? " ok " : " FAIL ") << details << '\n';
    if (!ok)
        ++failures;
}

// Static constructors: run before main, in order, from .init_array; the destructor's line is printed at exit.
std::vector<std::string> &log()
{
    static std::vector<std::string> entries;
    return entries;
}

struct Registered {
    std::string name;
    explicit Registered(std::string n) : name(std::move(n)) { log().push_back("ctor " + name); }
    ~Registered() { std::cout << "cxx: static destructor " << name << '\n'; }
};

Registered first("first");
Registered second("second");

void check_static_constructors()
{
    std::ostringstream s;
    for (auto &e : log())
        s << e << ';';
    report("static-constructors", log().size() == 2 && log()[0] == "ctor first" && log()[1] == "ctor second", s.str());
}

void check_iostream()
{
    std::ostringstream s;
    s << std::setw(6) << 42 << '|' << std::hex << 255 << std::dec << '|' << std::fixed << std::setprecision(3) << 3.14159
      << '|' << std::scientific << 1234.5 << '|' << std::boolalpha << true;
    std::istringstream in("17 2.5 word");
    int i = 0;
    double d = 0;
    std::string w;
    in >> i >> d >> w;
    bool ok = s.str() == "    42|ff|3.142|1.234e+03|true" && i == 17 && d == 2.5 && w == "word";
    report("iostream", ok, s.str());
    std::cerr << "cxx: this line goes to stderr\n";
}

// An exception thrown several frames down: every frame's destructor runs, in order, while it unwinds.
std::vector<std::string> unwound;

struct Frame {
    int depth;
    explicit Frame(int d) : depth(d) {}
    ~Frame() { unwound.push_back("frame" + std::to_string(depth)); }
};

[[gnu::noinline]] int descend(int depth)
{
    Frame f(depth);
    if (depth == 0)
        throw std::runtime_error("bottom reached");
    return descend(depth - 1) + 1;
}

struct Custom : std::exception {
    int code;
    explicit Custom(int c) : code(c) {}
    const char *what() const noexcept override { return "custom"; }
};

void check_exceptions()
{
    std::string what;
    try {
        descend(4);
    } catch (const std::exception &e) {
        what = e.what();
    }
    std::ostringstream s;
    for (auto &u : unwound)
        s << u << ',';
    bool ok = what == "bottom reached" && unwound.size() == 5 && unwound.front() == "frame0" && unwound.back() == "frame4";
    int code = 0;
    try {
        try {
            throw Custom(7);
        } catch (Custom &c) {
            c.code *= 6;
            throw;
        }
    } catch (const Custom &c) {
        code = c.code;
    }
    bool length_error = false;
    try {
        std::string("abc").substr(10);
    } catch (const std::out_of_range &) {
        length_error = true;
    }
    bool out_of_range = false;
    try {
        std::vector<int>(3).at(5);
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    s << " what=" << what << " rethrown=" << code;
    report("exceptions", ok && code == 42 && length_error && out_of_range, s.str());
}

thread_local int tls_value = 5;
thread_local std::string tls_name = "main";

struct Counted {
    static std::atomic<int> destroyed;
    ~Counted() { ++destroyed; }
};
std::atomic<int> Counted::destroyed{0};
thread_local Counted per_thread;

void check_threads()
{
    std::mutex m;
    std::condition_variable cv;
    long total = 0;
    int ready = 0;
    std::vector<int> seen(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            (void)&per_thread; // constructed in this thread, destroyed at its exit
            tls_value += t;
            tls_name = "worker" + std::to_string(t);
            {
                std::unique_lock<std::mutex> lock(m);
                ++ready;
                cv.notify_all();
                cv.wait(lock, [&] { return ready == 4; });
            }
            for (int i = 0; i < 10000; ++i) {
                std::lock_guard<std::mutex> lock(m);
                ++total;
            }
            seen[t] = tls_value * 10 + (tls_name.back() - '0');
        });
    for (auto &t : threads)
        t.join();
    std::ostringstream s;
    s << "total=" << total << " seen=" << seen[0] << ',' << seen[1] << ',' << seen[2] << ',' << seen[3]
      << " main=" << tls_value << '/' << tls_name << " tls-destructors=" << Counted::destroyed.load();
    bool ok = total == 40000 && seen == std::vector<int>{50, 61, 72, 83} && tls_value == 5 && tls_name == "main"
              && Counted::destroyed.load() == 4;
    report("threads", ok, s.str());
}

// An exception_ptr made in one thread and rethrown in another, and std::async's future carrying one.
void check_exception_ptr()
{
    std::exception_ptr caught;
    std::thread t([&] {
        try {
            descend(1);
        } catch (...) {
            caught = std::current_exception();
        }
    });
    t.join();
    std::string message;
    try {
        if (caught)
            std::rethrow_exception(caught);
    } catch (const std::runtime_error &e) {
        message = e.what();
    }
    auto future = std::async(std::launch::async, [] {
        std::vector<int> parts{1, 2, 3};
        return std::accumulate(parts.begin(), parts.end(), 0);
    });
    auto failing = std::async(std::launch::async, []() -> int { throw std::invalid_argument("from async"); });
    std::string async_message;
    try {
        failing.get();
    } catch (const std::invalid_argument &e) {
        async_message = e.what();
    }
    int value = future.get();
    report("exception-ptr", message == "bottom reached" && async_message == "from async" && value == 6,
           "message=" + message + " async=" + async_message + " value=" + std::to_string(value));
}

void check_library()
{
    std::map<std::string, int> counts;
    std::istringstream words("b a c a b a");
    for (std::string w; words >> w;)
        ++counts[w];
    std::vector<int> v{5, 3, 9, 1, 7};
    std::sort(v.begin(), v.end());
    auto shared = std::make_shared<std::vector<int>>(v);
    std::weak_ptr<std::vector<int>> weak = shared;
    std::function<int(int)> square = [](int x) { return x * x; };
    std::regex number(R"((\d+)-(\d+))");
    std::smatch match;
    std::string text = "range 12-34 here";
    bool matched = std::regex_search(text, match, number);
    std::ostringstream s;
    s << "a=" << counts["a"] << " sorted=" << v.front() << ".." << v.back() << " use=" << shared.use_count()
      << " square=" << square(9) << " regex=" << (matched ? match[1].str() + "+" + match[2].str() : "none");
    bool ok = counts["a"] == 3 && v == std::vector<int>{1, 3, 5, 7, 9} && !weak.expired() && square(9) == 81 && matched
              && match[2] == "34";
    report("library", ok, s.str());
}

} // namespace

int main(int argc, char **argv)
{
    report("args", argc == 2 && std::string(argv[1]) == "alpha", "argc=" + std::to_string(argc));
    check_static_constructors();
    check_iostream();
    check_exceptions();
    check_threads();
    check_exception_ptr();
    check_library();
    std::cout << "cxx: done failures " << failures << std::endl;
    return failures;
}

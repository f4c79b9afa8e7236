// An ordinary C++ program for Debian's libstdc++.a: iostream, a static constructor, an exception thrown through
// frames with destructors, std::string, std::vector and a thread_local; linked the way g++ -static links it.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
struct Noisy {
    std::string name;
    explicit Noisy(std::string n) : name(std::move(n)) {}
    ~Noisy() { std::cout << "~" << name << "\n"; }
};

Noisy global("global");
thread_local int depth;

[[gnu::noinline]] int dive(int n)
{
    Noisy frame("frame" + std::to_string(n));
    ++depth;
    if (n == 0)
        throw std::runtime_error("bottom");
    return dive(n - 1) + 1;
}
}

int main()
{
    std::vector<int> v{3, 1, 2};
    try {
        dive(3);
    } catch (const std::exception &e) {
        std::cout << "caught " << e.what() << " at depth " << depth << " size " << v.size() << "\n";
    }
    return 0;
}

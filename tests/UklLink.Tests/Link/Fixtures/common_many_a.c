/* Several commons per object: ld lays them out in its symbol hash table's order (see LinkDifferentialTests). */
int ca_int; char ca_char; long ca_longs[3]; int ca_big[100]; short ca_short;
int c_dup;
long _start(void) { return ca_int + ca_char + ca_longs[1] + ca_big[2] + ca_short + c_dup; }

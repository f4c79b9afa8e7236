long c_dup[4];
char cb_char; int cb_int; double cb_double;

/* Dense switches become jump tables in .rodata (absolute 32S entries with -mcmodel=kernel). */
long classify(long x)
{
    switch (x) {
    case 0: return 11;
    case 1: return 23;
    case 2: return x * 5 + 1;
    case 3: return 31;
    case 4: return x << 3;
    case 5: return 47;
    case 6: return x ^ 0x55;
    case 7: return 59;
    case 9: return 61;
    default: return -1;
    }
}

const char *month(int m)
{
    switch (m) {
    case 1: return "January";
    case 2: return "February";
    case 3: return "March";
    case 4: return "April";
    case 5: return "May";
    case 6: return "June";
    case 7: return "July";
    case 8: return "August";
    case 9: return "September";
    case 10: return "October";
    case 11: return "November";
    case 12: return "December";
    default: return "?";
    }
}

/* A computed-goto table: label addresses in data. */
long interpret(const unsigned char *code)
{
    static const void *const ops[] = { &&op_halt, &&op_inc, &&op_dbl, &&op_neg };
    long acc = 0;
    goto *ops[*code++];
op_inc: acc++; goto *ops[*code++];
op_dbl: acc *= 2; goto *ops[*code++];
op_neg: acc = -acc; goto *ops[*code++];
op_halt: return acc;
}

long _start(void)
{
    static const unsigned char program[] = { 1, 1, 2, 3, 0 };
    long sum = interpret(program);
    for (long i = 0; i < 12; i++)
        sum += classify(i) + month((int)i)[0];
    return sum;
}

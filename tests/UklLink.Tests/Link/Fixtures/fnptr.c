/* Tables of function and data pointers: 64-bit absolute relocations in .rodata and .data. */
extern void kprint(const char *);
extern long kernel_counter;

static long op_add(long a, long b) { return a + b; }
static long op_sub(long a, long b) { return a - b; }
long op_mul(long a, long b) { return a * b; }
long op_div(long a, long b) { return b ? a / b : 0; }

typedef long (*binop)(long, long);
const binop const_ops[] = { op_add, op_sub, op_mul, op_div };
binop mutable_ops[] = { op_mul, op_add, 0, op_sub };

struct command { const char *name; binop fn; long *counter; void (*log)(const char *); };
static long uses[4];
const struct command commands[] = {
    { "add", op_add, &uses[0], kprint },
    { "sub", op_sub, &uses[1], kprint },
    { "mul", op_mul, &uses[2], 0 },
    { "div", op_div, &kernel_counter, kprint },
};
long *const counter_ptr = &kernel_counter;
const char *const names[] = { "add", "sub", "mul", "div", "add" };
void (*log_hook)(const char *) = kprint;

long _start(void)
{
    long r = 0;
    for (unsigned i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        r += commands[i].fn(r, (long)i + 1);
        (*commands[i].counter)++;
        if (commands[i].log)
            commands[i].log(names[i]);
    }
    mutable_ops[2] = const_ops[3];
    log_hook("done");
    return r + *counter_ptr + mutable_ops[2](r, 2);
}

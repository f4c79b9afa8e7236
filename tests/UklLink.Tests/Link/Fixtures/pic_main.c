int app_int = 9;
long pic_use(void);
long _start(void) { return pic_use(); }

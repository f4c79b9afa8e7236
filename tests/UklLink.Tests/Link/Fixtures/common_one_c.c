int defined_over_common = 5;  /* this definition beats the common in common_one_d.c */
char big_common_c[1000];      /* the object's single common symbol */

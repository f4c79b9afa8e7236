long shared_common[8];
int b_data = 1;

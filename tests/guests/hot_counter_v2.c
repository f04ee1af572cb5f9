/* hot_counter.c as version 2. */
#define VERSION 2
#include "hot_counter.c"

/* hot_counter.c as version 3. */
#define VERSION 3
#include "hot_counter.c"

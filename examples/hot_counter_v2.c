/* hot_counter.c as version 2: the same code, which says so in its replies (lunatic::hot::version). */
#define VERSION 2
#include "hot_counter.c"

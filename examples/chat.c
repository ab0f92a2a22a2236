/* Placeholder: chat is being written. */
#include <stdio.h>
#include <axon.h>
int main(void) { puts(ax_build_info()); return 0; }

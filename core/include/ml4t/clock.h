/*  ml4t_clock: monotonic and wall-clock nanoseconds. */
#ifndef ML4T_CLOCK_H_INCLUDED
#define ML4T_CLOCK_H_INCLUDED

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic nanoseconds, for measuring latency. */
uint64_t ml4t_clock_mono_ns(void);

/* Unix-epoch nanoseconds (UTC), for ts_* fields. */
uint64_t ml4t_clock_wall_ns(void);

#ifdef __cplusplus
}
#endif
#endif

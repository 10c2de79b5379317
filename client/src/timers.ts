/** Timer handles and limits, the same in browsers and Node. */

export type Timer = ReturnType<typeof setTimeout>;

/** Largest delay setTimeout accepts: a longer one fires at once. */
export const MAX_TIMER = 2_147_483_647;

/**
 * Front door of @upline/upbit-sim. Built by its own issue; empty until then.
 */
export {};

/**
 * Front door of @upline/upbit. Built by its own issue; empty until then.
 */
export {};

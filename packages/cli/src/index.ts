/**
 * Front door of @upline/cli. Built by its own issue; empty until then.
 */
export {};

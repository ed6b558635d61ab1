/** The SwiftProxy release this build is. */
export const VERSION = "0.1.0";

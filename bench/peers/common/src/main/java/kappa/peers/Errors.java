package kappa.peers;

/** Errors as the peers' command lines print them: one line, what went wrong. */
public final class Errors {
  private Errors() {}

  /**
   * The message of the innermost cause of {@code t}, on one line, without the layers of a
   * framework that wrapped it (a failed Flink job is several deep).
   */
  public static String rootMessage(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    String message = root.getMessage() == null ? root.getClass().getName() : root.getMessage();
    return message.split("\\n", 2)[0];
  }
}

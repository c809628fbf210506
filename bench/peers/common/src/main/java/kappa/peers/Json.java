package kappa.peers;

/**
 * Builds one JSON object per result row, fields in the order given, with the field
 * names of Kappa's output (kappa/bench/nexmark_queries.cc), so rows can be compared.
 */
public final class Json {
  private final StringBuilder out = new StringBuilder(128);
  private boolean first = true;

  public static Json object() {
    return new Json();
  }

  private Json() {
    out.append('{');
  }

  private void name(String name) {
    if (!first) out.append(',');
    first = false;
    out.append('"').append(name).append("\":");
  }

  public Json put(String name, long v) {
    name(name);
    out.append(v);
    return this;
  }

  public Json put(String name, double v) {
    name(name);
    out.append(v);
    return this;
  }

  public Json put(String name, String v) {
    name(name);
    out.append('"');
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    out.append('"');
    return this;
  }

  @Override
  public String toString() {
    return out.toString() + "}";
  }
}

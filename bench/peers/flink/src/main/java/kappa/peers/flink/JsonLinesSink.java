package kappa.peers.flink;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;

/**
 * Writes result rows as JSON lines, one file per subtask (DIR/part-N.jsonl). At least
 * once, which is all a run from start to end without failures needs; it keeps the
 * output path out of the comparison (Flink's FileSink would add part-file staging and
 * renames on every checkpoint that Kappa's file sink does not have to match).
 */
final class JsonLinesSink implements Sink<String> {
  private static final long serialVersionUID = 1L;
  private final String dir;

  JsonLinesSink(String dir) {
    this.dir = dir;
  }

  @Override
  public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
    Path path = Paths.get(dir, "part-" + context.getTaskInfo().getIndexOfThisSubtask() + ".jsonl");
    Files.createDirectories(path.getParent());
    return new Writer(Files.newBufferedWriter(path, StandardCharsets.UTF_8));
  }

  private static final class Writer implements SinkWriter<String> {
    private final BufferedWriter out;

    Writer(BufferedWriter out) {
      this.out = out;
    }

    @Override
    public void write(String row, Context context) throws IOException {
      out.write(row);
      out.write('\n');
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}

package kappa.peers.kstreams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The rows with the highest score seen so far (ties: all of them), as Kappa's MaxBy
 * keeps them: the aggregate of q5's and q7's "highest per window" stages. Rows are the
 * JSON lines the query writes.
 */
final class TopRows {
  long score = Long.MIN_VALUE;
  final List<String> rows = new ArrayList<>();

  TopRows offer(long s, String row) {
    if (!rows.isEmpty() && s < score) return this;
    if (!rows.isEmpty() && s > score) rows.clear();
    score = s;
    rows.add(row);
    return this;
  }

  static Serde<TopRows> serde() {
    Serializer<TopRows> ser = (topic, t) -> {
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeLong(t.score);
        out.writeInt(t.rows.size());
        for (String r : t.rows) out.writeUTF(r);
        return bytes.toByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
    Deserializer<TopRows> de = (topic, data) -> {
      if (data == null) return null;
      try {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
        TopRows t = new TopRows();
        t.score = in.readLong();
        for (int n = in.readInt(); n > 0; n--) t.rows.add(in.readUTF());
        return t;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
    return Serdes.serdeFrom(ser, de);
  }
}

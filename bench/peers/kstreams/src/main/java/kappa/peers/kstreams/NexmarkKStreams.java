package kappa.peers.kstreams;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import kappa.peers.Errors;
import kappa.peers.Event;
import kappa.peers.EventParser;
import kappa.peers.Json;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;

/**
 * Kappa's Nexmark q0, q5 and q7 (kappa/bench/nexmark_queries.cc) on Kafka Streams with
 * exactly_once_v2, plus the two ends a run needs:
 *
 *   load --bootstrap B --topic T --events FILE   the events as records, timestamp = dateTime
 *   run  --bootstrap B --query q0|q5|q7 --input T --output T --state-dir DIR
 *                                                 runs the query until every input record
 *                                                 is processed and committed
 *   read --bootstrap B --topic T --out FILE [--upsert]
 *                                                 the output topic (read_committed) as JSON lines
 *
 * Semantics as Kappa's, in the DSL: windows with a grace of 4000 ms (Kappa's bounded
 * out-of-orderness: a window closes once stream time passes its end by 4 s), final
 * results only (suppress until the window closes). Kafka Streams has no end of input,
 * so `load` appends one end record, a bid of auction -1 and price -1 timestamped a
 * minute after the last event: stream time passes every real window, which closes; the
 * end record's own windows never close and q0 skips it. q5's and q7's second stage
 * (highest per window) is a table keyed by window start: its output is upserts, and
 * `read --upsert` keeps each key's last value.
 */
public final class NexmarkKStreams {
  private static final long GRACE_MS = 4000;
  static final String END = "end";

  public static void main(String[] args) throws Exception {
    if (args.length < 1) usage("missing command");
    Map<String, String> flags = new HashMap<>();
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--upsert")) {
        flags.put("upsert", "true");
      } else if (i + 1 < args.length && args[i].startsWith("--")) {
        flags.put(args[i].substring(2), args[++i]);
      } else {
        usage("bad argument " + args[i]);
      }
    }
    try {
      switch (args[0]) {
        case "load": load(need(flags, "bootstrap"), need(flags, "topic"), need(flags, "events")); break;
        case "run":
          run(need(flags, "bootstrap"), need(flags, "query"), need(flags, "input"), need(flags, "output"),
              need(flags, "state-dir"));
          break;
        case "read":
          read(need(flags, "bootstrap"), need(flags, "topic"), need(flags, "out"), flags.containsKey("upsert"));
          break;
        default: usage("unknown command " + args[0]);
      }
    } catch (Exception e) {
      System.err.println("error: " + args[0] + ": " + Errors.rootMessage(e));
      System.exit(1);
    }
  }

  private static String need(Map<String, String> flags, String name) {
    String v = flags.get(name);
    if (v == null) usage("--" + name + " is required");
    return v;
  }

  private static void usage(String error) {
    System.err.println("error: " + error);
    System.err.println("usage: NexmarkKStreams load|run|read ... (see the class comment)");
    System.exit(2);
  }

  // ---------------------------------------------------------------------------------
  // load

  static void load(String bootstrap, String topic, String events) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
    EventParser parser = new EventParser();
    long last = 0;
    long n = 0;
    AtomicReference<Exception> failure = new AtomicReference<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
         BufferedReader in = Files.newBufferedReader(Paths.get(events), StandardCharsets.UTF_8)) {
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        long t = parser.parse(line).dateTime;
        last = Math.max(last, t);
        producer.send(new ProducerRecord<>(topic, null, t, null, line), (md, e) -> {
          if (e != null) failure.compareAndSet(null, e);
        });
        n++;
      }
      producer.send(new ProducerRecord<>(topic, null, last + 60_000, null, END));
      producer.flush();
    }
    if (failure.get() != null) throw failure.get();
    System.err.println("loaded " + n + " events into " + topic);
  }

  // ---------------------------------------------------------------------------------
  // The queries

  /** Parses a record's value; the end record becomes a bid of auction -1, price -1. */
  private static final class Parse {
    private final EventParser parser = new EventParser();

    Event apply(String value) {
      if (value.equals(END)) {
        Event e = new Event();
        e.type = Event.BID;
        e.auction = -1;
        e.price = -1;
        e.extra = "";
        return e;
      }
      try {
        return parser.parse(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static String bidRow(Event b) {
    return Json.object().put("auction", b.auction).put("bidder", b.bidder).put("price", b.price)
        .put("dateTime", b.dateTime).put("extra", b.extra).toString();
  }

  static void buildQ0(KStream<String, String> input, String output) {
    Parse parse = new Parse();
    input.mapValues(parse::apply)
        .filter((k, e) -> e.isBid() && e.auction >= 0)
        .mapValues(NexmarkKStreams::bidRow)
        .to(output, Produced.with(Serdes.String(), Serdes.String()));
  }

  // q5: bids counted per auction in hopping 10 s / 2 s windows (final counts only), then
  // per window start the auctions with the most bids. Between the stages a count travels
  // as "ROW\tCOUNT": the row as written, and the score the second stage compares.
  static void buildQ5(KStream<String, String> input, String output) {
    Parse parse = new Parse();
    input.mapValues(parse::apply)
        .filter((k, e) -> e.isBid())
        .map((k, e) -> KeyValue.pair(e.auction, e.auction))
        .groupByKey(Grouped.with("auction", Serdes.Long(), Serdes.Long()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofMillis(GRACE_MS))
            .advanceBy(Duration.ofSeconds(2)))
        .count(Materialized.with(Serdes.Long(), Serdes.Long()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((w, n) -> KeyValue.pair(w.window().start(), Json.object().put("auction", w.key()).put("num", n)
            .put("window_start", w.window().start()).put("window_end", w.window().end()).toString() + "\t" + n))
        .groupByKey(Grouped.with("window", Serdes.Long(), Serdes.String()))
        .aggregate(TopRows::new, (start, row, top) -> {
          int tab = row.lastIndexOf('\t');
          return top.offer(Long.parseLong(row.substring(tab + 1)), row.substring(0, tab));
        }, Materialized.with(Serdes.Long(), TopRows.serde()))
        .toStream()
        .mapValues(top -> String.join("\n", top.rows))
        .to(output, Produced.with(Serdes.Long(), Serdes.String()));
  }

  // q7: per tumbling 10 s window, the highest bids: first per auction and window (final
  // results only), then per window start. A bid travels to the first stage as
  // "PRICE\tROW".
  static void buildQ7(KStream<String, String> input, String output) {
    Parse parse = new Parse();
    input.mapValues(parse::apply)
        .filter((k, e) -> e.isBid())
        .map((k, e) -> KeyValue.pair(e.auction, e.price + "\t" + bidRow(e)))
        .groupByKey(Grouped.with("auction", Serdes.Long(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofMillis(GRACE_MS)))
        .aggregate(TopRows::new, (auction, bid, top) -> {
          int tab = bid.indexOf('\t');
          return top.offer(Long.parseLong(bid.substring(0, tab)), bid.substring(tab + 1));
        }, Materialized.with(Serdes.Long(), TopRows.serde()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((w, top) -> KeyValue.pair(w.window().start(), top))
        .groupByKey(Grouped.with("window", Serdes.Long(), TopRows.serde()))
        .aggregate(TopRows::new, (start, auctionTop, top) -> {
          for (String row : auctionTop.rows) top.offer(auctionTop.score, row);
          return top;
        }, Materialized.with(Serdes.Long(), TopRows.serde()))
        .toStream()
        .mapValues(top -> String.join("\n", top.rows))
        .to(output, Produced.with(Serdes.Long(), Serdes.String()));
  }

  // ---------------------------------------------------------------------------------
  // run

  static void run(String bootstrap, String query, String input, String output, String stateDir) throws Exception {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, String> events = builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()));
    switch (query) {
      case "q0": buildQ0(events, output); break;
      case "q5": buildQ5(events, output); break;
      case "q7": buildQ7(events, output); break;
      default: usage("unknown query " + query);
    }
    String appId = "nexmark-" + query + "-" + input;
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    long start = System.nanoTime();
    streams.start();
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      waitUntilCaughtUp(admin, appId, input, failure);
    } finally {
      streams.close(Duration.ofSeconds(60));
    }
    if (failure.get() != null) throw new RuntimeException("Kafka Streams failed", failure.get());
    System.err.printf("%s: done in %.1f s%n", appId, (System.nanoTime() - start) / 1e9);
  }

  /**
   * Polls the application's committed offsets until every input record and every record
   * of its own repartition topics is processed and committed. A partition written in
   * transactions ends with a commit marker that is never consumed, so one offset short
   * of the end counts as caught up there; the input topic, written without
   * transactions, must be consumed to its end. A partition that holds records but has no
   * committed offset yet is not caught up.
   */
  private static void waitUntilCaughtUp(Admin admin, String appId, String input, AtomicReference<Throwable> failure)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
    int stable = 0;
    Map<TopicPartition, Long> previousEnds = null;
    while (System.nanoTime() < deadline) {
      if (failure.get() != null) return;
      Set<String> topics = new HashSet<>();
      topics.add(input);
      for (String t : admin.listTopics().names().get()) {
        if (t.startsWith(appId + "-") && t.endsWith("-repartition")) topics.add(t);
      }
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (TopicDescription d : admin.describeTopics(topics).allTopicNames().get().values()) {
        for (TopicPartitionInfo info : d.partitions()) {
          latest.put(new TopicPartition(d.name(), info.partition()), OffsetSpec.latest());
        }
      }
      Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get();
      Map<TopicPartition, OffsetAndMetadata> committed =
          admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
      boolean caughtUp = true;
      Map<TopicPartition, Long> endOffsets = new HashMap<>();
      for (TopicPartition tp : latest.keySet()) {
        long end = ends.get(tp).offset();
        endOffsets.put(tp, end);
        if (end == 0) continue;
        OffsetAndMetadata c = committed.get(tp);
        long slack = tp.topic().equals(input) ? 0 : 1;
        if (c == null || c.offset() < end - slack) caughtUp = false;
      }
      // Caught up twice in a row with no new records anywhere: nothing is in flight.
      if (caughtUp && endOffsets.equals(previousEnds)) {
        if (++stable >= 2) return;
      } else {
        stable = 0;
      }
      previousEnds = endOffsets;
      Thread.sleep(250);
    }
    throw new RuntimeException("Kafka Streams did not catch up within 30 minutes");
  }

  // ---------------------------------------------------------------------------------
  // read

  static void read(String bootstrap, String topic, String outFile, boolean upsert) throws IOException {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
    Map<String, String> last = new LinkedHashMap<>();
    List<String> rows = new ArrayList<>();
    try (KafkaConsumer<byte[], String> consumer =
             new KafkaConsumer<>(p, new ByteArrayDeserializer(), new StringDeserializer())) {
      List<TopicPartition> parts = consumer.partitionsFor(topic).stream()
          .map(info -> new TopicPartition(topic, info.partition())).collect(Collectors.toList());
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      Map<TopicPartition, Long> ends = consumer.endOffsets(parts);
      Set<TopicPartition> open = new HashSet<>(parts);
      open.removeIf(tp -> ends.get(tp) == 0);
      long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
      while (!open.isEmpty()) {
        if (System.nanoTime() > deadline) throw new IOException("reading " + topic + " did not reach its end");
        for (ConsumerRecord<byte[], String> r : consumer.poll(Duration.ofMillis(500))) {
          if (upsert) {
            last.put(java.util.Base64.getEncoder().encodeToString(r.key()), r.value());
          } else {
            rows.add(r.value());
          }
        }
        open.removeIf(tp -> consumer.position(tp) >= ends.get(tp));
      }
    }
    if (upsert) {
      for (String v : last.values()) {
        if (!v.isEmpty()) rows.add(v);
      }
    }
    try (BufferedWriter out = Files.newBufferedWriter(Paths.get(outFile), StandardCharsets.UTF_8)) {
      for (String v : rows) {
        out.write(v);
        out.write('\n');
      }
    }
    System.err.println("read " + rows.size() + " values from " + topic);
  }
}

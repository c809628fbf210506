package kappa.peers.flink;

import com.sun.management.OperatingSystemMXBean;
import java.io.IOException;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import kappa.peers.Errors;
import kappa.peers.Event;
import kappa.peers.EventParser;
import kappa.peers.Json;
import kappa.peers.flink.Rows.AuctionCount;
import kappa.peers.flink.Rows.AuctionOfSeller;
import kappa.peers.flink.Rows.AuctionTerms;
import kappa.peers.flink.Rows.Bid;
import kappa.peers.flink.Rows.BidPrice;
import kappa.peers.flink.Rows.CategoryPrice;
import kappa.peers.flink.Rows.NewPerson;
import kappa.peers.flink.Rows.Seller;
import kappa.peers.flink.Rows.SellerWindow;
import kappa.peers.flink.Rows.SumCount;
import kappa.peers.flink.Rows.WindowBid;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Kappa's Nexmark queries (kappa/bench/nexmark_queries.cc) on Flink's DataStream API,
 * with the same semantics: bounded out-of-orderness 4000 ms, the same windows, q3's
 * regular join, q4's closing rule, q5's and q7's two stages, q8's window join and q11's
 * sessions. Local MiniCluster, RocksDB state, checkpoints every 10 s. Reads the JSON
 * lines Kappa reads and writes rows with the field names Kappa writes.
 *
 *   java -cp ... kappa.peers.flink.NexmarkFlink --query q5 --events events.jsonl \
 *       --output out/ --checkpoint-dir ckpt/ [--parallelism 2] [--warmup-events small.jsonl]
 *
 * With --warmup-events the same job first runs on that input in the same JVM (output to
 * OUTPUT-warmup), so the measured run finds classes loaded and hot code compiled, and
 * then once more on it, measured (small_cpu_s=). The last stdout line gives the
 * measured run's CPU seconds (all of the JVM's threads) and wall seconds.
 */
public final class NexmarkFlink {
  private static final Duration OUT_OF_ORDERNESS = Duration.ofMillis(4000);
  private static final Duration TEN_SECONDS = Duration.ofSeconds(10);
  private static final Duration TWO_SECONDS = Duration.ofSeconds(2);

  public static void main(String[] args) throws Exception {
    String query = null;
    String events = null;
    String output = null;
    String checkpointDir = null;
    int parallelism = 1;
    long checkpointIntervalMs = 10_000;
    String warmupEvents = null;
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (i + 1 >= args.length) usage("missing value for " + flag);
      String value = args[++i];
      switch (flag) {
        case "--query": query = value; break;
        case "--events": events = value; break;
        case "--output": output = value; break;
        case "--checkpoint-dir": checkpointDir = value; break;
        case "--parallelism": parallelism = Integer.parseInt(value); break;
        case "--checkpoint-interval-ms": checkpointIntervalMs = Long.parseLong(value); break;
        case "--warmup-events": warmupEvents = value; break;
        default: usage("unknown flag " + flag);
      }
    }
    if (query == null || events == null || output == null || checkpointDir == null) {
      usage("--query, --events, --output and --checkpoint-dir are required");
    }

    OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    if (warmupEvents != null) {
      // The same job on a smaller input first, in this JVM: classes loaded, code compiled.
      // Then once more, measured: what a job costs besides its events (the MiniCluster's
      // start and stop, the first and last checkpoint) is then known.
      try {
        execute(query, warmupEvents, output + "-warmup", checkpointDir + "-warmup", parallelism,
            checkpointIntervalMs);
      } catch (Exception e) {
        System.err.println("error: nexmark-" + query + ": " + Errors.rootMessage(e));
        System.exit(1);
      }
      long cpu0 = os.getProcessCpuTime();
      execute(query, warmupEvents, output + "-warm", checkpointDir + "-warm", parallelism, checkpointIntervalMs);
      System.out.printf("small_cpu_s=%.3f%n", (os.getProcessCpuTime() - cpu0) / 1e9);
    }
    long cpu0 = os.getProcessCpuTime();
    long wall0 = System.nanoTime();
    try {
      execute(query, events, output, checkpointDir, parallelism, checkpointIntervalMs);
    } catch (Exception e) {
      System.err.println("error: nexmark-" + query + ": " + Errors.rootMessage(e));
      System.exit(1);
    }
    // CPU of the whole JVM (every thread) during the measured job, for scripts/bench-peers.
    System.out.printf("measured_cpu_s=%.3f measured_wall_s=%.3f%n", (os.getProcessCpuTime() - cpu0) / 1e9,
        (System.nanoTime() - wall0) / 1e9);
  }

  private static void execute(String query, String events, String output, String checkpointDir, int parallelism,
      long checkpointIntervalMs) throws Exception {
    Configuration conf = new Configuration();
    conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
    // With checkpoints on, Flink's default is to restart a failed job forever; a bad input
    // line would never end the run. Fail it instead, as Kappa's run does.
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
    conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
    conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, Paths.get(checkpointDir).toAbsolutePath().toUri().toString());
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
    env.enableCheckpointing(checkpointIntervalMs);

    DataStream<Event> source = readEvents(env, events, parallelism);
    DataStream<String> rows;
    switch (query) {
      case "q0": rows = q0(source); break;
      case "q1": rows = q1(source); break;
      case "q2": rows = q2(source); break;
      case "q3": rows = q3(source); break;
      case "q4": rows = q4(source); break;
      case "q5": rows = q5(source); break;
      case "q7": rows = q7(source); break;
      case "q8": rows = q8(source); break;
      case "q11": rows = q11(source); break;
      default: usage("unknown query " + query); return;
    }
    rows.sinkTo(new JsonLinesSink(output)).name("output");
    env.execute("nexmark-" + query);
  }

  private static void usage(String error) {
    System.err.println("error: " + error);
    System.err.println("usage: NexmarkFlink --query q0|q1|q2|q3|q4|q5|q7|q8|q11 --events FILE --output DIR "
        + "--checkpoint-dir DIR [--parallelism N] [--checkpoint-interval-ms MS] [--warmup-events FILE]");
    System.exit(2);
  }

  // ---------------------------------------------------------------------------------
  // Source: the JSON-lines file, parsed, with event time = dateTime.

  private static final class Parse extends RichMapFunction<String, Event> {
    private static final long serialVersionUID = 1L;
    private transient EventParser parser;

    @Override
    public void open(OpenContext context) {
      parser = new EventParser();
    }

    @Override
    public Event map(String line) throws IOException {
      return parser.parse(line);
    }
  }

  private static DataStream<Event> readEvents(StreamExecutionEnvironment env, String file, int parallelism) {
    FileSource<String> files = FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(file)).build();
    DataStream<String> lines = env.fromSource(files, WatermarkStrategy.noWatermarks(), "events");
    // One file is one split, read by one subtask: spread the parsing when running wider.
    if (parallelism > 1) lines = lines.rebalance();
    return lines.map(new Parse()).name("parse")
        .assignTimestampsAndWatermarks(WatermarkStrategy.<Event>forBoundedOutOfOrderness(OUT_OF_ORDERNESS)
            .withTimestampAssigner((e, previous) -> e.dateTime))
        .name("watermarks");
  }

  private static DataStream<Bid> bids(DataStream<Event> events) {
    return events.filter(Event::isBid).name("bids")
        .map(e -> new Bid(e.auction, e.bidder, e.price, e.dateTime, e.extra)).returns(Bid.class).name("bid");
  }

  // ---------------------------------------------------------------------------------
  // q0, q1, q2: filter and map.

  static DataStream<String> q0(DataStream<Event> events) {
    return bids(events).map(Bid::toJson).returns(Types.STRING).name("q0");
  }

  static DataStream<String> q1(DataStream<Event> events) {
    return bids(events).map(b -> Json.object().put("auction", b.auction).put("bidder", b.bidder)
        .put("price", b.price * 0.908).put("dateTime", b.dateTime).put("extra", b.extra).toString())
        .returns(Types.STRING).name("currency-conversion");
  }

  static DataStream<String> q2(DataStream<Event> events) {
    return bids(events).filter(b -> b.auction % 123 == 0).name("selection")
        .map(b -> Json.object().put("auction", b.auction).put("price", b.price).toString())
        .returns(Types.STRING).name("q2");
  }

  // ---------------------------------------------------------------------------------
  // q3: a regular inner join of sellers in OR, ID, CA with category-10 auctions, keyed
  // by person id / seller, no time condition: both sides are kept for good, so either
  // arrival order joins.

  static DataStream<String> q3(DataStream<Event> events) {
    DataStream<Seller> sellers = events
        .filter(e -> e.isPerson() && (e.state.equals("OR") || e.state.equals("ID") || e.state.equals("CA")))
        .name("sellers-in-or-id-ca")
        .map(e -> new Seller(e.id, e.name, e.city, e.state)).returns(Seller.class).name("seller");
    DataStream<AuctionOfSeller> auctions = events.filter(e -> e.isAuction() && e.category == 10).name("category-10")
        .map(e -> new AuctionOfSeller(e.id, e.seller)).returns(AuctionOfSeller.class).name("auction");
    return sellers.keyBy(s -> s.id, Types.LONG)
        .connect(auctions.keyBy(a -> a.seller, Types.LONG))
        .process(new JoinSellers()).returns(Types.STRING).name("join-sellers");
  }

  private static final class JoinSellers extends KeyedCoProcessFunction<Long, Seller, AuctionOfSeller, String> {
    private static final long serialVersionUID = 1L;
    private transient ListState<Seller> sellers;
    private transient ListState<Long> auctions;

    @Override
    public void open(OpenContext context) {
      sellers = getRuntimeContext().getListState(new ListStateDescriptor<>("sellers", Seller.class));
      auctions = getRuntimeContext().getListState(new ListStateDescriptor<>("auctions", Types.LONG));
    }

    @Override
    public void processElement1(Seller s, Context ctx, Collector<String> out) throws Exception {
      for (Long id : auctions.get()) out.collect(row(s, id));
      sellers.add(s);
    }

    @Override
    public void processElement2(AuctionOfSeller a, Context ctx, Collector<String> out) throws Exception {
      for (Seller s : sellers.get()) out.collect(row(s, a.id));
      auctions.add(a.id);
    }

    private static String row(Seller s, long auction) {
      return Json.object().put("name", s.name).put("city", s.city).put("state", s.state).put("id", auction).toString();
    }
  }

  // ---------------------------------------------------------------------------------
  // q4: per auction, the highest bid with auction.dateTime <= bid.dateTime <= expires,
  // emitted when the watermark passes expires; then per category a running average
  // (one upsert row per closed auction that had such a bid).

  static DataStream<String> q4(DataStream<Event> events) {
    DataStream<AuctionTerms> auctions = events.filter(Event::isAuction).name("auctions")
        .map(e -> new AuctionTerms(e.id, e.category, e.dateTime, e.expires)).returns(AuctionTerms.class)
        .name("auction-terms");
    DataStream<BidPrice> bids = events.filter(Event::isBid).name("bids")
        .map(e -> new BidPrice(e.auction, e.dateTime, e.price)).returns(BidPrice.class).name("bid-price");
    DataStream<CategoryPrice> closed = auctions.keyBy(a -> a.id, Types.LONG)
        .connect(bids.keyBy(b -> b.auction, Types.LONG))
        .process(new MaxBidPerAuction()).returns(CategoryPrice.class).name("max-bid-per-auction");
    return closed.keyBy(c -> c.category, Types.LONG).process(new AveragePerCategory()).returns(Types.STRING)
        .name("average-per-category");
  }

  /**
   * Kappa's MaxBidPerAuction: the auction and its running maximum in state, closed by a
   * timer at expires + 1; bids that arrive before their auction wait in a list with a
   * timer at bid.dateTime + 1 and are dropped when it fires without the auction. Late
   * records (behind the watermark) are dropped.
   */
  private static final class MaxBidPerAuction
      extends KeyedCoProcessFunction<Long, AuctionTerms, BidPrice, CategoryPrice> {
    private static final long serialVersionUID = 1L;
    private transient ValueState<AuctionTerms> auction;
    private transient ValueState<Long> maxPrice;
    private transient ListState<BidPrice> earlyBids;

    @Override
    public void open(OpenContext context) {
      auction = getRuntimeContext().getState(new ValueStateDescriptor<>("auction", AuctionTerms.class));
      maxPrice = getRuntimeContext().getState(new ValueStateDescriptor<>("max-price", Types.LONG));
      earlyBids = getRuntimeContext().getListState(new ListStateDescriptor<>("early-bids", BidPrice.class));
    }

    private static boolean late(Context ctx) {
      return ctx.timestamp() < ctx.timerService().currentWatermark();
    }

    private static boolean counts(AuctionTerms a, long bidTime) {
      return a.dateTime <= bidTime && bidTime <= a.expires;
    }

    @Override
    public void processElement1(AuctionTerms a, Context ctx, Collector<CategoryPrice> out) throws Exception {
      if (late(ctx)) return;
      auction.update(a);
      Long max = null;
      for (BidPrice b : earlyBids.get()) {
        if (counts(a, b.dateTime) && (max == null || b.price > max)) max = b.price;
      }
      earlyBids.clear();
      if (max != null) maxPrice.update(max);
      ctx.timerService().registerEventTimeTimer(a.expires + 1);
    }

    @Override
    public void processElement2(BidPrice b, Context ctx, Collector<CategoryPrice> out) throws Exception {
      if (late(ctx)) return;
      AuctionTerms open = auction.value();
      if (open != null) {
        if (!counts(open, b.dateTime)) return;
        Long max = maxPrice.value();
        if (max == null || b.price > max) maxPrice.update(b.price);
        return;
      }
      earlyBids.add(b);
      ctx.timerService().registerEventTimeTimer(b.dateTime + 1);
    }

    @Override
    public void onTimer(long t, OnTimerContext ctx, Collector<CategoryPrice> out) throws Exception {
      AuctionTerms open = auction.value();
      if (open != null) {
        if (t <= open.expires) return;  // an early bid's timer; the auction is still open
        Long max = maxPrice.value();
        if (max != null) out.collect(new CategoryPrice(open.category, max));
        auction.clear();
        maxPrice.clear();
        return;
      }
      List<BidPrice> keep = new ArrayList<>();
      for (BidPrice b : earlyBids.get()) {
        if (b.dateTime >= t) keep.add(b);
      }
      if (keep.isEmpty()) {
        earlyBids.clear();
      } else {
        earlyBids.update(keep);
      }
    }
  }

  private static final class AveragePerCategory extends KeyedProcessFunction<Long, CategoryPrice, String> {
    private static final long serialVersionUID = 1L;
    private transient ValueState<SumCount> sumCount;

    @Override
    public void open(OpenContext context) {
      sumCount = getRuntimeContext().getState(new ValueStateDescriptor<>("sum-count", SumCount.class));
    }

    @Override
    public void processElement(CategoryPrice c, Context ctx, Collector<String> out) throws Exception {
      SumCount s = sumCount.value();
      if (s == null) s = new SumCount();
      s.sum += c.price;
      s.count += 1;
      sumCount.update(s);
      out.collect(Json.object().put("category", c.category).put("avg", (double) s.sum / (double) s.count).toString());
    }
  }

  // ---------------------------------------------------------------------------------
  // Window helpers.

  /** Counts a window's records. */
  private static final class Count<T> implements AggregateFunction<T, Long, Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public Long createAccumulator() {
      return 0L;
    }

    @Override
    public Long add(T value, Long acc) {
      return acc + 1;
    }

    @Override
    public Long getResult(Long acc) {
      return acc;
    }

    @Override
    public Long merge(Long a, Long b) {
      return a + b;
    }
  }

  /** A record's score for {@link MaxAll}. */
  interface Score<T> extends Serializable {
    long of(T value);
  }

  /** Keeps every input with the highest score (ties: all of them), as Kappa's MaxBy. */
  private static final class MaxAll<T> implements AggregateFunction<T, List<T>, List<T>> {
    private static final long serialVersionUID = 1L;
    private final Score<T> score;

    MaxAll(Score<T> score) {
      this.score = score;
    }

    @Override
    public List<T> createAccumulator() {
      return new ArrayList<>();
    }

    @Override
    public List<T> add(T v, List<T> acc) {
      if (!acc.isEmpty()) {
        long top = score.of(acc.get(0));
        long s = score.of(v);
        if (s < top) return acc;
        if (s > top) acc.clear();
      }
      acc.add(v);
      return acc;
    }

    @Override
    public List<T> getResult(List<T> acc) {
      return acc;
    }

    @Override
    public List<T> merge(List<T> a, List<T> b) {
      for (T v : b) add(v, a);
      return a;
    }
  }

  // ---------------------------------------------------------------------------------
  // q5: bids counted per auction in sliding 10 s / 2 s windows, then per window the
  // auctions with the most bids. Every count of window w carries timestamp w.end - 1,
  // so all of a window's counts land in one tumbling 2 s window of the second stage.

  static DataStream<String> q5(DataStream<Event> events) {
    DataStream<AuctionCount> counts = events.filter(Event::isBid).name("bids")
        .map(e -> e.auction).returns(Types.LONG).name("auction")
        .keyBy(a -> a, Types.LONG)
        .window(SlidingEventTimeWindows.of(TEN_SECONDS, TWO_SECONDS))
        .aggregate(new Count<Long>(), new ProcessWindowFunction<Long, AuctionCount, Long, TimeWindow>() {
          private static final long serialVersionUID = 1L;

          @Override
          public void process(Long auction, Context ctx, Iterable<Long> n, Collector<AuctionCount> out) {
            TimeWindow w = ctx.window();
            out.collect(new AuctionCount(auction, n.iterator().next(), w.getStart(), w.getEnd()));
          }
        }, Types.LONG, Types.LONG, TypeInformation.of(AuctionCount.class))
        .name("count-bids");
    TypeInformation<List<AuctionCount>> list = Types.LIST(TypeInformation.of(AuctionCount.class));
    return counts.keyBy(c -> c.windowStart, Types.LONG)
        .window(TumblingEventTimeWindows.of(TWO_SECONDS))
        .aggregate(new MaxAll<AuctionCount>(c -> c.num),
            new ProcessWindowFunction<List<AuctionCount>, String, Long, TimeWindow>() {
              private static final long serialVersionUID = 1L;

              @Override
              public void process(Long start, Context ctx, Iterable<List<AuctionCount>> top, Collector<String> out) {
                for (AuctionCount c : top.iterator().next()) out.collect(c.toJson());
              }
            }, list, list, Types.STRING)
        .name("max-per-window");
  }

  // ---------------------------------------------------------------------------------
  // q7: the highest bids per tumbling 10 s window, in two stages (per auction, then per
  // window) so that no task sees every bid of a window.

  static DataStream<String> q7(DataStream<Event> events) {
    TypeInformation<List<Bid>> bidList = Types.LIST(TypeInformation.of(Bid.class));
    DataStream<WindowBid> perAuction = bids(events).keyBy(b -> b.auction, Types.LONG)
        .window(TumblingEventTimeWindows.of(TEN_SECONDS))
        .aggregate(new MaxAll<Bid>(b -> b.price), new ProcessWindowFunction<List<Bid>, WindowBid, Long, TimeWindow>() {
          private static final long serialVersionUID = 1L;

          @Override
          public void process(Long auction, Context ctx, Iterable<List<Bid>> top, Collector<WindowBid> out) {
            for (Bid b : top.iterator().next()) out.collect(new WindowBid(ctx.window().getStart(), b));
          }
        }, bidList, bidList, TypeInformation.of(WindowBid.class))
        .name("max-per-auction");
    TypeInformation<List<WindowBid>> windowBidList = Types.LIST(TypeInformation.of(WindowBid.class));
    return perAuction.keyBy(b -> b.windowStart, Types.LONG)
        .window(TumblingEventTimeWindows.of(TEN_SECONDS))
        .aggregate(new MaxAll<WindowBid>(b -> b.bid.price),
            new ProcessWindowFunction<List<WindowBid>, String, Long, TimeWindow>() {
              private static final long serialVersionUID = 1L;

              @Override
              public void process(Long start, Context ctx, Iterable<List<WindowBid>> top, Collector<String> out) {
                for (WindowBid b : top.iterator().next()) out.collect(b.bid.toJson());
              }
            }, windowBidList, windowBidList, Types.STRING)
        .name("max-per-window");
  }

  // ---------------------------------------------------------------------------------
  // q8: sellers per tumbling 10 s window (one record per seller and window, timestamp
  // w.end - 1) window-joined with the persons who registered in that window.

  static DataStream<String> q8(DataStream<Event> events) {
    DataStream<NewPerson> persons = events.filter(Event::isPerson).name("persons")
        .map(e -> new NewPerson(e.id, e.name)).returns(NewPerson.class).name("new-person");
    DataStream<SellerWindow> sellers = events.filter(Event::isAuction).name("auctions")
        .map(e -> e.seller).returns(Types.LONG).name("seller")
        .keyBy(s -> s, Types.LONG)
        .window(TumblingEventTimeWindows.of(TEN_SECONDS))
        .aggregate(new Count<Long>(), new ProcessWindowFunction<Long, SellerWindow, Long, TimeWindow>() {
          private static final long serialVersionUID = 1L;

          @Override
          public void process(Long seller, Context ctx, Iterable<Long> n, Collector<SellerWindow> out) {
            out.collect(new SellerWindow(seller, ctx.window().getStart()));
          }
        }, Types.LONG, Types.LONG, TypeInformation.of(SellerWindow.class))
        .name("sellers-per-window");
    return persons.join(sellers)
        .where(p -> p.id, Types.LONG)
        .equalTo(s -> s.seller, Types.LONG)
        .window(TumblingEventTimeWindows.of(TEN_SECONDS))
        .apply((NewPerson p, SellerWindow s) ->
            Json.object().put("id", p.id).put("name", p.name).put("starttime", s.windowStart).toString(),
            Types.STRING)
        .name("join-new-sellers");
  }

  // ---------------------------------------------------------------------------------
  // q11: bids per bidder session, gap 10 s. Kappa merges two records of a key iff they
  // are less than the gap apart; Flink's session windows [t, t + gap) merge when they
  // touch (TimeWindow.intersects is inclusive), i.e. also at exactly the gap. A gap of
  // 9999 ms makes Flink merge iff the distance is < 10000 ms, as Kappa does; the row's
  // endtime is then the merged window's end + 1 = last bid + 10 s, Kappa's session end.

  static DataStream<String> q11(DataStream<Event> events) {
    return events.filter(Event::isBid).name("bids")
        .map(e -> e.bidder).returns(Types.LONG).name("bidder")
        .keyBy(b -> b, Types.LONG)
        .window(EventTimeSessionWindows.withGap(TEN_SECONDS.minusMillis(1)))
        .aggregate(new Count<Long>(), new ProcessWindowFunction<Long, String, Long, TimeWindow>() {
          private static final long serialVersionUID = 1L;

          @Override
          public void process(Long bidder, Context ctx, Iterable<Long> n, Collector<String> out) {
            TimeWindow w = ctx.window();
            out.collect(Json.object().put("bidder", bidder).put("bid_count", n.iterator().next())
                .put("starttime", w.getStart()).put("endtime", w.getEnd() + 1).toString());
          }
        }, Types.LONG, Types.LONG, Types.STRING)
        .name("bids-per-session");
  }
}

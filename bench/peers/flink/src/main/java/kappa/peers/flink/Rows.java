package kappa.peers.flink;

import kappa.peers.Json;

/**
 * The records between the queries' operators, as Flink POJOs (public fields, no-argument
 * constructors), named after the structs of kappa/bench/nexmark_queries.cc. Each result
 * type turns itself into the JSON line Kappa writes for it.
 */
public final class Rows {
  private Rows() {}

  /** q0, q7: a bid as the contract prints it. */
  public static final class Bid {
    public long auction;
    public long bidder;
    public long price;
    public long dateTime;
    public String extra;

    public Bid() {}

    public Bid(long auction, long bidder, long price, long dateTime, String extra) {
      this.auction = auction;
      this.bidder = bidder;
      this.price = price;
      this.dateTime = dateTime;
      this.extra = extra;
    }

    public String toJson() {
      return Json.object().put("auction", auction).put("bidder", bidder).put("price", price)
          .put("dateTime", dateTime).put("extra", extra).toString();
    }
  }

  /** q3 join input: what the join keeps of a seller. */
  public static final class Seller {
    public long id;
    public String name;
    public String city;
    public String state;

    public Seller() {}

    public Seller(long id, String name, String city, String state) {
      this.id = id;
      this.name = name;
      this.city = city;
      this.state = state;
    }
  }

  /** q3 join input: a category-10 auction. */
  public static final class AuctionOfSeller {
    public long id;
    public long seller;

    public AuctionOfSeller() {}

    public AuctionOfSeller(long id, long seller) {
      this.id = id;
      this.seller = seller;
    }
  }

  /** q4 join input: what q4 needs of an auction (kept in state while it is open). */
  public static final class AuctionTerms {
    public long id;
    public long category;
    public long dateTime;
    public long expires;

    public AuctionTerms() {}

    public AuctionTerms(long id, long category, long dateTime, long expires) {
      this.id = id;
      this.category = category;
      this.dateTime = dateTime;
      this.expires = expires;
    }
  }

  /** q4 join input: what q4 needs of a bid. */
  public static final class BidPrice {
    public long auction;
    public long dateTime;
    public long price;

    public BidPrice() {}

    public BidPrice(long auction, long dateTime, long price) {
      this.auction = auction;
      this.dateTime = dateTime;
      this.price = price;
    }
  }

  /** q4: an auction's highest valid bid, emitted when the auction closes. */
  public static final class CategoryPrice {
    public long category;
    public long price;

    public CategoryPrice() {}

    public CategoryPrice(long category, long price) {
      this.category = category;
      this.price = price;
    }
  }

  /** q4 state: running sum and count of closed auctions' highest bids. */
  public static final class SumCount {
    public long sum;
    public long count;

    public SumCount() {}
  }

  /** q5 */
  public static final class AuctionCount {
    public long auction;
    public long num;
    public long windowStart;
    public long windowEnd;

    public AuctionCount() {}

    public AuctionCount(long auction, long num, long windowStart, long windowEnd) {
      this.auction = auction;
      this.num = num;
      this.windowStart = windowStart;
      this.windowEnd = windowEnd;
    }

    public String toJson() {
      return Json.object().put("auction", auction).put("num", num).put("window_start", windowStart)
          .put("window_end", windowEnd).toString();
    }
  }

  /** q7 between stages: a bid with the highest price of its auction in a window. */
  public static final class WindowBid {
    public long windowStart;
    public Bid bid;

    public WindowBid() {}

    public WindowBid(long windowStart, Bid bid) {
      this.windowStart = windowStart;
      this.bid = bid;
    }
  }

  /** q8 join input: a new person. */
  public static final class NewPerson {
    public long id;
    public String name;

    public NewPerson() {}

    public NewPerson(long id, String name) {
      this.id = id;
      this.name = name;
    }
  }

  /** q8 join input: a seller that opened at least one auction in a window. */
  public static final class SellerWindow {
    public long seller;
    public long windowStart;

    public SellerWindow() {}

    public SellerWindow(long seller, long windowStart) {
      this.seller = seller;
      this.windowStart = windowStart;
    }
  }
}

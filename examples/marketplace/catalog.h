/*
 * catalog.h — the marketplace's world: ten categories, fifty brands, and the
 * words sellers use about them. Pure constant tables (catalog.c); the
 * price formula that uses them is in listing.c, written out in README.md.
 */
#ifndef MARKET_CATALOG_H
#define MARKET_CATALOG_H

#include <stdint.h>

#define MARKET_CATEGORIES     10
#define MARKET_BRANDS_PER     5
#define MARKET_BRANDS         (MARKET_CATEGORIES * MARKET_BRANDS_PER)
#define MARKET_CONDITIONS     5
#define MARKET_ACCESSORIES    3
#define MARKET_DEFECT_PHRASES 3

/* The object's outline in the photos: one per category. */
enum market_shape {
    SHAPE_PHONE,      /* tall rounded slab with a dark screen */
    SHAPE_LAPTOP,     /* screen over a wedge */
    SHAPE_CAMERA,     /* box with a lens ring */
    SHAPE_HEADPHONES, /* arc with two cups */
    SHAPE_WATCH,      /* round face on a band */
    SHAPE_SNEAKER,    /* triangle on a sole bar */
    SHAPE_HANDBAG,    /* trapezoid with a handle ring */
    SHAPE_BICYCLE,    /* two rings and a frame */
    SHAPE_CHAIR,      /* back, seat and legs */
    SHAPE_GUITAR,     /* two circles and a neck */
};

/* How a defect shows on the object when the photos show it. */
enum market_defect_look {
    LOOK_CRACK, /* a dark jagged line across the body (hard goods) */
    LOOK_STAIN, /* a large brown blot (soft goods, wood) */
};

struct market_accessory {
    const char *phrase[2]; /* two ways of saying it */
    double factor;         /* price multiplier when included */
};

struct market_category {
    const char *name;     /* the category column */
    const char *nouns[4]; /* title words (synonyms) */
    const char *models[6];
    double weight; /* share of listings */
    double base;   /* price of a new, mid-tier item */
    double cond_slope;
    double defect_factor;
    double premium_factor; /* photo-only premium finish */
    int season_peak;       /* day of year of the seasonal high */
    double season_amp;     /* log-price amplitude of the season */
    int ship_mean;         /* shipping days */
    enum market_shape shape;
    enum market_defect_look look;
    uint8_t accent[3]; /* screens, lenses, soles, legs */
    const char *defects[MARKET_DEFECT_PHRASES];
    struct market_accessory acc[MARKET_ACCESSORIES];
    const char *missing[2]; /* "no charger": an essential part is missing */
    double missing_factor;
    int missing_acc; /* the accessory it rules out, or -1 */
};

struct market_brand {
    const char *name;  /* UTF-8 */
    const char *ascii; /* how people type it without accents, or NULL */
    int category;
    double weight; /* share within the category (long tail) */
    double mult;   /* price tier */
    double hue;    /* body colour in the photos, 0..1 */
};

extern const struct market_category market_categories[MARKET_CATEGORIES];
extern const struct market_brand market_brands[MARKET_BRANDS];
extern const char *const market_condition_names[MARKET_CONDITIONS];

/* Text vocabularies: phrases per condition (index 0 new .. 4 poor). */
extern const char *const market_condition_phrases[MARKET_CONDITIONS][3];
extern const char *const market_sealed_phrases[3];
extern const char *const market_title_junk[14];
extern const char *const market_title_adjectives[8];
extern const char *const market_filler[16];
extern const char *const market_no_damage[4];

#endif
